#!/bin/sh
# f) stacd --once: one line per controller on stdout and the exit code:
# 0 all live, 3 some missing, 4 none live, 2 bad usage or a broken config.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

# once ARGS...: run stacd in the foreground; sets RC and ERR (stderr);
# stdout is in /tmp/once.out
once() {
	now_ns
	t0=$NOW
	"$STACD" "$@" >/tmp/once.out 2>/tmp/once.err
	RC=$?
	ms_since "$t0"
	ERR=$(cat /tmp/once.err)
	echo "\$ stacd $* -> exit $RC after $MS ms; stdout:"
	sed 's/^/    /' /tmp/once.out
	echo "  stderr:"
	sed 's/^/    /' /tmp/once.err
}

# line_live PORT NQN HOW: stdout has exactly the line
# "live nvmeN <id> HOW cntlid=M" for the kernel's controller of (PORT, NQN)
line_live() {
	c=$(ctrl_find "$1" "$2")
	[ -n "$c" ] || return 1
	read -r id <"/sys/class/nvme/$c/cntlid"
	grep -qxF "live $c $(stacd_id "$1" "$2") $3 cntlid=$id" /tmp/once.out
}

# line_failed PORT NQN: stdout has "failed - <id> <reason>" naming connection refused
line_failed() {
	grep -F "failed - $(stacd_id "$1" "$2") " /tmp/once.out | grep -qi 'connection refused'
}

reset_kernel() {
	delete_all_ctrls
	rm -rf "$STACD_RUNDIR"
}

echo "== all live -> 0"
conf_write 4420 "$SUB1" 8009 "$SUB1" 4420 "$SUB2"
once --once --timeout 10
check "all live: exit 0" [ "$RC" = 0 ]
check "exactly 3 controllers, all live" all_live 3
for pn in "4420 $SUB1" "8009 $SUB1" "4420 $SUB2"; do
	check "stdout: 'live nvmeN $(stacd_id "${pn%% *}" "${pn#* }") connected cntlid=N'" line_live "${pn%% *}" "${pn#* }" connected
done
check "stdout: exactly 3 lines" [ "$(wc -l </tmp/once.out)" = 3 ]
list_subsys
check "nvme list-subsys: 3 live paths" [ "$(grep -c '+- nvme.* live' /tmp/list-subsys)" = 3 ]

echo "== again: all already there -> adopted, 0, nothing new"
before=$(ctrl_snapshot)
once --once --timeout 10
check "all adopted: exit 0" [ "$RC" = 0 ]
for pn in "4420 $SUB1" "8009 $SUB1" "4420 $SUB2"; do
	check "stdout: 'live nvmeN $(stacd_id "${pn%% *}" "${pn#* }") adopted cntlid=N'" line_live "${pn%% *}" "${pn#* }" adopted
done
check "no controller added or changed" same_snapshot "$before" "$(ctrl_snapshot)"

echo "== one dead address among live ones -> 3"
reset_kernel
conf_write 4420 "$SUB1" "$DEAD_PORT" "$SUB1" 8009 "$SUB1" 4420 "$SUB2"
once --once --timeout 4
check "some missing: exit 3" [ "$RC" = 3 ]
check "it returned within the timeout + 3 s ($MS ms)" [ "$MS" -le 7000 ]
for pn in "4420 $SUB1" "8009 $SUB1" "4420 $SUB2"; do
	check "stdout: 'live ... $(stacd_id "${pn%% *}" "${pn#* }") connected ...'" line_live "${pn%% *}" "${pn#* }" connected
done
check "stdout: 'failed - $(stacd_id "$DEAD_PORT" "$SUB1") <connection refused>'" line_failed "$DEAD_PORT" "$SUB1"
check "exactly 3 controllers, all live" all_live 3
check "no controller for :$DEAD_PORT" [ -z "$(ctrl_find "$DEAD_PORT" "$SUB1")" ]

echo "== only dead addresses -> 4"
reset_kernel
conf_write "$DEAD_PORT" "$SUB1" "$DEAD_PORT" "$SUB2"
once --once --timeout 4
check "none live: exit 4" [ "$RC" = 4 ]
check "stdout: failed line for $SUB1" line_failed "$DEAD_PORT" "$SUB1"
check "stdout: failed line for $SUB2" line_failed "$DEAD_PORT" "$SUB2"
check "no controller" [ "$(ctrl_count)" = 0 ]

echo "== bad usage -> 2"
conf_write 4420 "$SUB1"
once --once --bogus
check "--bogus: exit 2" [ "$RC" = 2 ]
check "--bogus: no controller connected" [ "$(ctrl_count)" = 0 ]

echo "== broken config -> 2"
{
	echo "controller = transport=tcp;traddr=$ADDR;trsvcid=4420;nqn=$SUB1"
	echo "[Controllers]"
	echo "controller = transport=tcp;traddr=$ADDR;trsvcid=4420;nqn=$SUB2"
} >/tmp/broken.conf
once -f /tmp/broken.conf --once --timeout 4
check "broken config: exit 2" [ "$RC" = 2 ]
check "broken config: the error is on stderr" [ -n "$ERR" ]
check "broken config: no controller connected" [ "$(ctrl_count)" = 0 ]
summary
