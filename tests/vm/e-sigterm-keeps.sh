#!/bin/sh
# e) SIGTERM: stacd exits with status 0 and every controller stays live.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

conf_write 4420 "$SUB1" 8009 "$SUB1" 4420 "$SUB2"
stacd_start
check "3 controllers live" wait_live 3 10 "$STACD_T0"
wait_log "Connection established!" 3 5
before=$(ctrl_snapshot)
uevents_start
now_ns
t0=$NOW
kill -TERM "$STACD_PID"
check "stacd exits within 10 s of SIGTERM" stacd_wait_exit 10
ms_since "$t0"
echo "TIMING: SIGTERM -> exit: $MS ms (includes the wait loop's 10 ms steps)"
check "exit status 0" [ "$STACD_RC" = 0 ]
check "log: 'exiting; connections stay up'" log_has "stacd: exiting; connections stay up"
usleep 1000000
uevents_stop
check "the same 3 controllers, all live" same_snapshot "$before" "$(ctrl_snapshot)"
check "all 3 live" [ "$(live_count)" = 3 ]
check "kernel: no controller removed (uevents)" [ "$(uevent_count remove)" = 0 ]
list_subsys
check "nvme list-subsys: 3 live paths" [ "$(grep -c '+- nvme.* live' /tmp/list-subsys)" = 3 ]
summary
