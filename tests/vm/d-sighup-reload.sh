#!/bin/sh
# d) SIGHUP reloads stacd.conf: an added controller connects and the others
# are untouched (same instance and cntlid); a broken file changes nothing, is
# logged, and the daemon keeps running; a later SIGHUP with a fixed file works.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

conf_write 4420 "$SUB1" 4420 "$SUB2"
stacd_start
check "2 controllers live" wait_live 2 10 "$STACD_T0"
wait_log "Connection established!" 2 5
before=$(ctrl_snapshot)
uevents_start

echo "== add $SUB1 @8009, SIGHUP"
conf_write 4420 "$SUB1" 4420 "$SUB2" 8009 "$SUB1"
now_ns
t0=$NOW
kill -HUP "$STACD_PID"
check "log: 'reloading $STACD_CONF'" wait_log "stacd: reloading $STACD_CONF" 1 5
check "the added controller is live" wait_live 3 10 "$t0"
echo "TIMING: SIGHUP -> added controller live: $LIVE_MS ms"
check "the added controller $ADDR:8009 $SUB1 is there" ctrl_live 8009 "$SUB1"
c=$(ctrl_find 8009 "$SUB1")
check "log: '$(stacd_id 8009 "$SUB1") | $c - Connection established!'" \
	log_ends "stacd: $(stacd_id 8009 "$SUB1") | $c - Connection established!"
after=$(ctrl_snapshot)
check "the 2 others are untouched (same name cntlid nqn address)" snapshot_keeps "$before" "$after"
check "exactly 3 controllers" [ "$(ctrl_count)" = 3 ]

echo "== broken file (a key=value line before any section), SIGHUP"
before=$after
{
	echo "controller = transport=tcp;traddr=$ADDR;trsvcid=8009;nqn=$SUB2"
	echo "[Controllers]"
	echo "controller = transport=tcp;traddr=$ADDR;trsvcid=4420;nqn=$SUB1"
} >"$STACD_CONF"
kill -HUP "$STACD_PID"
check "log: 'error: reload failed: ...; keeping the running configuration'" \
	wait_log "stacd: error: reload failed: " 1 5
check "log: the failure ends with '; keeping the running configuration'" \
	log_ends "; keeping the running configuration"
grep -F "reload failed" "$STACD_LOG" | sed 's/^/    /'
usleep 2000000 # a wrong connect or disconnect would show by now
check "nothing changed (same 3 controllers)" same_snapshot "$before" "$(ctrl_snapshot)"
check "stacd is still running" stacd_running

echo "== fixed file (adds $SUB2 @8009), SIGHUP"
conf_write 4420 "$SUB1" 4420 "$SUB2" 8009 "$SUB1" 8009 "$SUB2"
now_ns
t0=$NOW
kill -HUP "$STACD_PID"
check "log: 3 'reloading' lines" wait_log "stacd: reloading $STACD_CONF" 3 5
check "the added controller is live" wait_live 4 10 "$t0"
check "the added controller $ADDR:8009 $SUB2 is there" ctrl_live 8009 "$SUB2"
after=$(ctrl_snapshot)
check "the 3 others are untouched" snapshot_keeps "$before" "$after"
check "exactly 4 controllers" [ "$(ctrl_count)" = 4 ]
uevents_stop
check "kernel: 2 controllers added in all (uevents)" [ "$(uevent_count add)" = 2 ]
check "kernel: no controller removed (uevents)" [ "$(uevent_count remove)" = 0 ]
list_subsys
check "nvme list-subsys: 4 live paths" [ "$(grep -c '+- nvme.* live' /tmp/list-subsys)" = 4 ]
check "nvme list-subsys: $SUB2 has a live path to $ADDR:8009" subsys_has 8009 "$SUB2"
check "stacd is still running" stacd_running
stacd_stop
summary
