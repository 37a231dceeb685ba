#!/bin/sh
# k) Hand-off: stacd --once as in an initramfs (rd.nvmf.connect on the
# command line), then the daemon started as on the real root (the VM's own
# command line, no rd.nvmf.*, an empty stacd.conf): it adopts both boot
# paths from /run/stacd/boot.json and the state file with zero connects and
# zero disconnects (kernel uevents counted), marks them as boot paths, and
# stopping it leaves them.
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

boot_root "rd.nvmf.connect=tcp,$ADDR,$SUB1 rd.nvmf.connect=tcp,$ADDR,$SUB2,8009"
STACD_ROOT=$BOOT_ROOT "$STACD" --once --timeout 15 >/tmp/once.out 2>&1
check "first stage: --once exits 0" [ $? = 0 ]
check "first stage: 2 controllers live" [ "$(live_count)" = 2 ]
check "boot.json written" [ -s "$STACD_RUNDIR/boot.json" ]
cat "$STACD_RUNDIR/boot.json"
before=$(ctrl_snapshot)

mkdir -p /etc/stas
: >"$STACD_CONF"
uevents_start
stacd_start
check "the daemon reads the hand-off record" wait_log "2 boot connections handed over" 1 10
usleep 1500000
after=$(ctrl_snapshot)
check "daemon: same controllers, same cntlids" same_snapshot "$before" "$after"
check "state.json marks both as boot paths" [ "$(grep -o '"boot":true' "$STACD_RUNDIR/state.json" | wc -l)" = 2 ]
check "no connect attempt logged" [ "$(log_count 'Connecting with')" = 0 ]
stacd_stop
uevents_stop
check "zero controller add events" [ "$(uevent_count add)" = 0 ]
check "zero controller remove events" [ "$(uevent_count remove)" = 0 ]
check "after stop: boot paths still there" same_snapshot "$before" "$(ctrl_snapshot)"
check "the daemon exited 0" [ "$STACD_RC" = 0 ]
summary
