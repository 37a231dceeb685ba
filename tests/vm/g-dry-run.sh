#!/bin/sh
# g) stacd --dry-run prints the plan and exits 0 without touching the kernel:
# "connect <id>" for what is missing, "adopt <id> nvmeN" for a kernel
# controller it did not make.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

# plan_has LINE-START: a line of the plan starts with LINE-START
plan_has() {
	grep -q "^$(echo "$1" | sed 's/[].[*^$\\/]/\\&/g')\( \|\$\)" /tmp/plan.out
}

conf_write 4420 "$SUB1" 8009 "$SUB1" 4420 "$SUB2"
"$STACD" --dry-run >/tmp/plan.out 2>/tmp/plan.err
rc=$?
echo "\$ stacd --dry-run -> exit $rc"
sed 's/^/    /' /tmp/plan.out /tmp/plan.err
check "exit 0" [ "$rc" = 0 ]
for pn in "4420 $SUB1" "8009 $SUB1" "4420 $SUB2"; do
	check "plan: 'connect $(stacd_id "${pn%% *}" "${pn#* }")'" plan_has "connect $(stacd_id "${pn%% *}" "${pn#* }")"
done
check "no controller connected" [ "$(ctrl_count)" = 0 ]
check "no stacd state written" [ ! -e "$STACD_RUNDIR/state.json" ]

echo "== with $SUB2 @4420 already connected by hand"
nvmf_connect "nqn=$SUB2,transport=tcp,traddr=$ADDR,trsvcid=4420,hostnqn=$HOSTNQN,hostid=$HOSTID"
c=$NVMF_CTRL
before=$(ctrl_snapshot)
"$STACD" --dry-run >/tmp/plan.out 2>/tmp/plan.err
rc=$?
echo "\$ stacd --dry-run -> exit $rc"
sed 's/^/    /' /tmp/plan.out /tmp/plan.err
check "exit 0" [ "$rc" = 0 ]
check "plan: 'adopt $(stacd_id 4420 "$SUB2") $c'" plan_has "adopt $(stacd_id 4420 "$SUB2") $c"
check "plan: 'connect $(stacd_id 4420 "$SUB1")'" plan_has "connect $(stacd_id 4420 "$SUB1")"
check "plan: 'connect $(stacd_id 8009 "$SUB1")'" plan_has "connect $(stacd_id 8009 "$SUB1")"
check "the kernel is untouched" same_snapshot "$before" "$(ctrl_snapshot)"
summary
