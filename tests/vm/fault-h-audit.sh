#!/bin/sh
# h) disconnect-scope = all-connections-matching-disconnect-trtypes (docs/design.md
# §3.6): at start, a tcp controller made by hand that nothing wants is
# disconnected and a wanted one made by hand is adopted; one made while
# stacd runs is disconnected as soon as the kernel has set it up; after a
# SIGHUP into only-stas-connections, hand-made controllers are left alone.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

audit_conf() { # audit_conf SCOPE: one wanted controller, 4420 SUB1
	conf_write 4420 "$SUB1"
	printf '[I/O controller connection management]\ndisconnect-scope = %s\n' "$1" >>"$STACD_CONF"
}
by_hand() { # by_hand PORT NQN: connect as nvme-cli would
	nvmf_connect "nqn=$2,transport=tcp,traddr=$ADDR,trsvcid=$1,hostnqn=$HOSTNQN,hostid=$HOSTID"
}

by_hand 4420 "$SUB1"
wanted=$NVMF_CTRL
by_hand 4420 "$SUB2"
foreign=$NVMF_CTRL
audit_conf all-connections-matching-disconnect-trtypes
stacd_start
check "the unwanted $foreign is disconnected at start" wait_gone 4420 "$SUB2" 5
ms_since "$STACD_T0"
t_start=$MS
check "log: '$(stacd_id 4420 "$SUB2") | $foreign - not wanted (disconnect-scope=all-connections-matching-disconnect-trtypes): Disconnect initiated'" \
	log_has "$(stacd_id 4420 "$SUB2") | $foreign - not wanted (disconnect-scope=all-connections-matching-disconnect-trtypes): Disconnect initiated"
check "the wanted $wanted is adopted" wait_log "$(stacd_id 4420 "$SUB1") | $wanted - Connection established! (adopted)" 1 5

echo "== a controller made by hand while stacd runs"
now_ns
t0=$NOW
by_hand 8009 "$SUB2"
late=$NVMF_CTRL
check "$late is disconnected within 2 s" wait_gone 8009 "$SUB2" 2
ms_since "$t0"
t_run=$MS
check "the wanted one is still live and the only one" [ "$(ctrl_find 4420 "$SUB1") $(ctrl_count)" = "$wanted 1" ]

echo "== SIGHUP into only-stas-connections"
audit_conf only-stas-connections
kill -HUP "$STACD_PID"
check "log: 'the audit is off'" wait_log "disconnect-scope=only-stas-connections: the audit is off" 1 5
by_hand 8009 "$SUB2"
usleep 2000000
check "a hand-made controller is left alone now" ctrl_live 8009 "$SUB2"
check "stacd connected nothing" [ "$(log_count "Connection established!")" = "$(log_count "(adopted)")" ]
check "stacd is still running" stacd_running
figure "h) audit scope" \
	"unwanted hand-made controllers gone ${t_start} ms after the start, ${t_run} ms after a connect; wanted adopted; off after SIGHUP"
stacd_stop
summary
