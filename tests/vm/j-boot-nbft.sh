#!/bin/sh
# j) A test NBFT (tests/fixtures/nbft/generated/NBFT-testbed-127.0.0.1, made
# by tests/common/nbft_gen.rs, embedded below; tests/boot.rs checks the copy)
# handed to stacd through its root seam: --once connects both SSNS with the
# table's host NQN (it wins over /etc/nvme/hostnqn) and ctrl_loss_tmo=-1,
# read back from sysfs; --dump-nbft decodes it.
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

NBFT_NQN=nqn.2014-08.org.nvmexpress:uuid:b0070000-0000-4000-8000-0000000000f7
boot_root "quiet"
base64 -d >"$BOOT_ROOT/sys/firmware/acpi/tables/NBFT" <<'NBFT'
TkJGVOcCAAABd1NUQUNEIFRFU1RCRUQgAAAAAAAAAAAAAAAAwAEAACcBAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAEBAAAAAAEAgAAAACAAAACgAAAAIAAAAcAAAACAAAACAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAACB7AHAAAAAEAAgAAAAAAAAPfAAQAARAAAAAAAAAAAAAMBAQMAAAAAAAAA
AAAAAAAFAgAAgAAAAAAAAAAAAAAABAEAAQADAQAAAIUCAAAQAJUCAAAEAAAAAQAAAAAAAAAAAAAA
AAAAAAAAAAAAAAEAAAAAAAAAmgIAABsAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAgABAAMBAAAAtgIAABAAxgIAAAQA
AAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAAAAAAAADLAgAAGwAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAG5xbi4yMDE0
LTA4Lm9yZy5udm1leHByZXNzOnV1aWQ6YjAwNzAwMDAtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAw
MGY3AAcBAwEBAAMAAAAAAAAAAAAAAAABAAAAAAAAAAAAAP//fwAAAQgAAAAAAAAAAAAA//8AAAAA
AAAAAAAAAAAAAAAAAP//AAAAAAAAAAAAAAAAAAD//wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAP//fwAAATQ0MjAAbnFuLjIwMjQtMDEuaW8udGVz
dGJlZDpzdWIxAAAAAAAAAAAAAAD//38AAAE0NDIwAG5xbi4yMDI0LTAxLmlvLnRlc3RiZWQ6c3Vi
MgA=
NBFT
check "the table is in place (743 bytes)" [ "$(wc -c <"$BOOT_ROOT/sys/firmware/acpi/tables/NBFT")" = 743 ]
STACD_ROOT=$BOOT_ROOT "$STACD" --dump-nbft >/tmp/dump 2>&1
check "--dump-nbft decodes it" grep -q "^subsystem_ns_list\[1\]->subsys_nqn=$SUB2\$" /tmp/dump
check "--dump-nbft shows the host NQN" grep -q "^host.nqn=$NBFT_NQN\$" /tmp/dump

STACD_ROOT=$BOOT_ROOT "$STACD" --once --timeout 15 >/tmp/once.out 2>/tmp/once.err
rc=$?
sed 's/^/    out: /' /tmp/once.out
sed 's/^/    log: /' /tmp/once.err
check "--once exits 0" [ "$rc" = 0 ]
check "the log names the table" grep -q "NBFT location(s): .*/NBFT" /tmp/once.err
for nqn in "$SUB1" "$SUB2"; do
	check "$nqn at $ADDR:4420 live" ctrl_live 4420 "$nqn"
	c=$(ctrl_find 4420 "$nqn")
	[ -n "$c" ] || continue
	check "$c ctrl_loss_tmo read back from sysfs: off (-1)" [ "$(cat "/sys/class/nvme/$c/ctrl_loss_tmo")" = off ]
	check "$c host NQN is the table's" [ "$(cat "/sys/class/nvme/$c/hostnqn")" = "$NBFT_NQN" ]
	check "$c host ID is the table's" [ "$(cat "/sys/class/nvme/$c/hostid")" = b0070000-0000-4000-8000-0000000000f7 ]
done
check "exactly 2 controllers" [ "$(ctrl_count)" = 2 ]
check "boot.json: 2 nbft connections" [ "$(grep -o '"source":"nbft"' "$STACD_RUNDIR/boot.json" | wc -l)" = 2 ]
summary
