#!/bin/sh
# Fault b) `echo 1 > delete_controller` on a controller stacd manages: it is
# connected again after the fast retry (3 s +-10 %, docs/design.md §4.8) — within 4.3 s.
# The same on a controller stacd does not own (made by hand, not wanted):
# it stays deleted, and while it existed stacd left it alone.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

conf_write 4420 "$SUB1" 4420 "$SUB2"
stacd_start
check "2 controllers live" wait_live 2 10 "$STACD_T0"
wait_log "Connection established!" 2 5
c=$(ctrl_find 4420 "$SUB1")
other=$(ctrl_info 4420 "$SUB2")

echo "== delete_controller on $c (managed)"
now_ns
t0=$NOW
echo 1 >"/sys/class/nvme/$c/delete_controller"
check "$c deleted" wait_gone 4420 "$SUB1" 5
check "connected again" wait_ctrl_live 4420 "$SUB1" 6
ms_since "$t0"
t_back=$MS
echo "TIMING: delete_controller -> live again: $t_back ms"
check "not before the fast retry (>= 2.7 s: $t_back ms)" [ "$t_back" -ge 2700 ]
check "within fast retry + 1 s (<= 4.3 s: $t_back ms)" [ "$t_back" -le 4300 ]
check "log: '$(stacd_id 4420 "$SUB1") | $c - Received \"remove\" event'" \
	log_has "$(stacd_id 4420 "$SUB1") | $c - Received \"remove\" event"
check "exactly 2 controllers" [ "$(ctrl_count)" = 2 ]
check "the other one untouched ($other)" [ "$(ctrl_info 4420 "$SUB2")" = "$other" ]

echo "== a controller stacd does not own"
nvmf_connect "nqn=$SUB1,transport=tcp,traddr=$ADDR,trsvcid=8009,hostnqn=$HOSTNQN,hostid=$HOSTID"
f=$NVMF_CTRL
echo "made by hand: $f"
usleep 1500000
check "left alone while it exists" ctrl_live 8009 "$SUB1"
echo 1 >"/sys/class/nvme/$f/delete_controller"
check "$f deleted" wait_gone 8009 "$SUB1" 5
usleep 5000000 # past the fast retry
check "still deleted 5 s later" [ -z "$(ctrl_find 8009 "$SUB1")" ]
check "stacd made 3 connects in all (2 + 1 reconnect)" [ "$(log_count "Connection established!")" = 3 ]
check "stacd is still running" stacd_running
figure "b) delete_controller" \
	"managed: live again $t_back ms later (fast retry 3 s); not owned: left deleted, 0 connects"
stacd_stop
summary
