#!/bin/sh
# c) One dead address (127.0.0.1:4421, nothing listens) among three live ones:
# the dead one costs the live ones at most one connect time, it is retried
# (the first retry ~3 s after the first failure, contract +-10 %), and the
# log gives the reason (connection refused).
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

# One connect, timed, as the yardstick for "one connect time".
now_ns
t0=$NOW
nvmf_connect "nqn=$SUB1,transport=tcp,traddr=$ADDR,trsvcid=4420,hostnqn=$HOSTNQN,hostid=$HOSTID"
ms_since "$t0"
t_conn=$MS
echo "TIMING: one connect by hand (write /dev/nvme-fabrics): $t_conn ms"
delete_all_ctrls

# Reference: the three live ones alone.
conf_write 4420 "$SUB1" 8009 "$SUB1" 4420 "$SUB2"
stacd_start
check "reference run: 3 controllers live" wait_live 3 10 "$STACD_T0"
t_ref=$LIVE_MS
wait_log "Connection established!" 3 5 # stop it only once it is idle
stacd_stop
delete_all_ctrls
rm -rf "$STACD_RUNDIR"

dead=$(stacd_id "$DEAD_PORT" "$SUB1")
conf_write 4420 "$SUB1" "$DEAD_PORT" "$SUB1" 8009 "$SUB1" 4420 "$SUB2"
stacd_start
check "with a dead address: the 3 live controllers are up" wait_live 3 10 "$STACD_T0"
t_dead=$LIVE_MS
echo "TIMING: start -> 3 live: $t_ref ms without the dead address, $t_dead ms with it (one connect: $t_conn ms)"
check "the dead address delays the live ones by at most one connect time ($t_dead <= $t_ref + $t_conn ms)" \
	[ "$t_dead" -le $((t_ref + t_conn)) ]
check "2 failed attempts for $dead logged within 8 s" \
	wait_log "$dead Failed to connect to controller." 2 8
f1=$(log_ms "$dead Failed to connect to controller." 1)
f2=$(log_ms "$dead Failed to connect to controller." 2)
echo "TIMING: failed attempts logged at ${f1:-?} ms and ${f2:-?} ms after the start"
check "the second attempt is logged within 5.5 s of the start (${f2:-none} ms)" [ "${f2:-99999}" -le 5500 ]
gap=
[ -z "$f1" ] || [ -z "$f2" ] || gap=$((f2 - f1))
check "the first retry comes 2.7..4 s after the first failure (${gap:-no retry} ms)" \
	in_range "$gap" 2700 4000
check "both failures are logged at error level" \
	[ "$(log_count "stacd: error: $dead Failed to connect to controller.")" -ge 2 ]
check "the log names the reason: connection refused" \
	sh -c "grep -F -- '$dead Failed to connect to controller.' '$STACD_LOG' | grep -qi 'connection refused'"
check "exactly 3 controllers, all live" all_live 3
check "no controller for the dead address" [ -z "$(ctrl_find "$DEAD_PORT" "$SUB1")" ]
list_subsys
for pn in "4420 $SUB1" "8009 $SUB1" "4420 $SUB2"; do
	check "nvme list-subsys: $ADDR:${pn%% *} ${pn#* } live" subsys_has "${pn%% *}" "${pn#* }"
done
check "nvme list-subsys: exactly 3 paths" [ "$(subsys_paths)" = 3 ]
check "nvme list-subsys: no path to :$DEAD_PORT" [ "$(grep -c "trsvcid=$DEAD_PORT" /tmp/list-subsys)" = 0 ]
check "stacd is still running" stacd_running
stacd_stop
summary
