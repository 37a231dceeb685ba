#!/bin/sh
# i) rd.nvmf.connect= direct connects, one of them to a dead address
# (127.0.0.1:4421, nothing listens): stacd --once connects them in parallel,
# so the dead one does not delay the live ones; it ends at its budget with
# exit 3 and names the failure.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

boot_root() { # see h-boot-discover.sh
	BOOT_ROOT=/tmp/bootroot
	rm -rf "$BOOT_ROOT"
	mkdir -p "$BOOT_ROOT/proc" "$BOOT_ROOT/sys/firmware/acpi/tables"
	for d in dev etc run; do ln -s "/$d" "$BOOT_ROOT/$d"; done
	ln -s /sys/class "$BOOT_ROOT/sys/class"
	printf '%s\n' "$1" >"$BOOT_ROOT/proc/cmdline"
}

live="rd.nvmf.connect=tcp,$ADDR,$SUB1 rd.nvmf.connect=tcp,$ADDR,$SUB2,8009"
dead="rd.nvmf.connect=tcp,$ADDR,$SUB1,$DEAD_PORT"

# Reference: the live ones alone.
boot_root "$live"
now_ns
t0=$NOW
STACD_ROOT=$BOOT_ROOT "$STACD" --once --timeout 10 >/tmp/once.ref 2>&1
rc=$?
ms_since "$t0"
t_ref=$MS
check "reference: --once exits 0" [ "$rc" = 0 ]
echo "TIMING: 2 live boot connections alone: $t_ref ms"
delete_all_ctrls
rm -rf "$STACD_RUNDIR"

# The dead one between them; rd.stacd.budget bounds the run.
boot_root "rd.nvmf.connect=tcp,$ADDR,$SUB1 $dead rd.nvmf.connect=tcp,$ADDR,$SUB2,8009 rd.stacd.budget=4"
now_ns
t0=$NOW
STACD_ROOT=$BOOT_ROOT "$STACD" --once >/tmp/once.out 2>/tmp/once.err &
pid=$!
check "2 controllers live while the dead one is tried" wait_live 2 10 "$t0"
t_live=$LIVE_MS
wait "$pid"
rc=$?
ms_since "$t0"
t_end=$MS
sed 's/^/    out: /' /tmp/once.out
echo "TIMING: live ones up after $t_live ms (alone: $t_ref ms); --once ended after $t_end ms"
check "the dead address does not delay the live ones ($t_live <= $t_ref + 300 ms)" \
	[ "$t_live" -le $((t_ref + 300)) ]
check "exit 3: some boot connection missing" [ "$rc" = 3 ]
check "the budget (rd.stacd.budget=4) bounds the run ($t_end ms)" [ "$t_end" -le 6000 ]
check "output: the dead one failed, connection refused" \
	grep -q "^failed - $(stacd_id "$DEAD_PORT" "$SUB1") connection refused" /tmp/once.out
check "output: two live lines" [ "$(grep -c '^live nvme' /tmp/once.out)" = 2 ]
check "sysfs: $SUB1 @4420 and $SUB2 @8009 live" ctrl_live 4420 "$SUB1"
check "sysfs: $SUB2 @8009 live" ctrl_live 8009 "$SUB2"
check "boot.json records the failure" grep -q '"result":"failed"' "$STACD_RUNDIR/boot.json"
summary
