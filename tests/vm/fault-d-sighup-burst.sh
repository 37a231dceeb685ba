#!/bin/sh
# Fault d) 100 SIGHUPs in a burst while the 8 first connects are in flight:
# no controller dropped, none connected twice, stacd alive and responsive
# (a following reload that removes one controller is applied at once).
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

check "nvmet: 2 more ports, 8 controllers configured" eight_ctrls
uevents_start
stacd_start
# SIGHUP kills a process that has no handler yet: wait until the process is
# stacd (comm) and has its SIGHUP handler (bit 0 of SigCgt, proc(5)); its
# connects start right after. No fork in this loop: it must be quick.
i=0 ready=0
while [ $i -lt 2000 ] && [ $ready = 0 ]; do
	comm=
	read -r comm <"/proc/$STACD_PID/comm"
	if [ "$comm" = stacd ]; then
		while read -r k v _; do
			[ "$k" = SigCgt: ] || continue
			case $v in *[13579bdf]) ready=1 ;; esac
		done <"/proc/$STACD_PID/status"
	fi
	i=$((i + 1))
	[ $ready = 1 ] || usleep 500
done
check "stacd has its SIGHUP handler" [ $ready = 1 ]
now_ns
t0=$NOW
i=0
while [ $i -lt 100 ]; do
	kill -HUP "$STACD_PID"
	i=$((i + 1))
done
ms_since "$t0"
t_burst=$MS
live_then=$(live_count)
echo "TIMING: 100 SIGHUPs sent in $t_burst ms; $live_then of 8 live when the burst ended"
check "connects were in flight during the burst ($live_then of 8 live at its end)" [ "$live_then" -lt 8 ]
check "8 controllers live" wait_live 8 15 "$STACD_T0"
usleep 300000
added=$(uevent_count add) removed=$(uevent_count remove)
snap=$(ctrl_snapshot)
usleep 2000000 # a duplicate or a drop would show by now
n_reload=$(log_count "stacd: reloading ")
echo "reloads logged: $n_reload (SIGHUPs that arrive together are handled once)"
check "exactly 8 controllers, all live" [ "$(ctrl_count) $(live_count)" = "8 8" ]
check "8 connects, none twice" [ "$(log_count "Connection established!")" = 8 ]
check "nothing added or removed once all were live" same_snapshot "$snap" "$(ctrl_snapshot)"
# A signal that lands on a connect thread interrupts the connect inside the
# kernel (-ERESTARTSYS, "failed to connect socket: -512"): the kernel drops
# that half-made controller and, SA_RESTART, re-runs the write. Such a
# controller never was live; the net count of added controllers is 8.
check "kernel: 8 controllers added in net (uevents: $added added, $removed removed)" \
	[ $((added - removed)) = 8 ]
interrupted=$removed
check "stacd is still running" stacd_running

echo "== responsive: drop 127.0.0.1:4431 $SUB2 from the file, SIGHUP"
conf_write 4420 "$SUB1" 4420 "$SUB2" 8009 "$SUB1" 8009 "$SUB2" 4430 "$SUB1" 4430 "$SUB2" 4431 "$SUB1"
now_ns
t1=$NOW
kill -HUP "$STACD_PID"
check "the removed controller is disconnected within 2 s" wait_gone 4431 "$SUB2" 2
ms_since "$t1"
t_resp=$MS
uevents_stop
check "7 controllers left, all live" [ "$(ctrl_count) $(live_count)" = "7 7" ]
figure "d) 100 SIGHUPs during 8 connects" \
	"burst $t_burst ms ($live_then/8 live at its end); 8 connects, 0 duplicates, 0 drops, $n_reload reloads, $interrupted connects restarted by the kernel; next reload applied in $t_resp ms"
stacd_stop
check "SIGTERM -> exit status 0" [ "$STACD_RC" = 0 ]
summary
