#!/bin/sh
# h) rd.nvmf.discover=tcp,127.0.0.1,,8009 on the kernel command line (a file
# under STACD_ROOT, see boot_root): stacd --once reads the discovery log page
# itself (Get Log Page ioctl), connects every NVMe subsystem it lists, and
# the set equals what `nvme discover` shows in the same VM. Boot paths get
# ctrl_loss_tmo=-1 (sysfs "off"), the discovery controller it connected is
# gone afterwards, and /run/stacd/boot.json lists each connection.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

# boot_root CMDLINE: a root for STACD_ROOT whose proc/cmdline says CMDLINE
# and whose dev, etc, run and sys/class are the real ones (the VM's own
# command line is fixed by vm-run).
boot_root() {
	BOOT_ROOT=/tmp/bootroot
	rm -rf "$BOOT_ROOT"
	mkdir -p "$BOOT_ROOT/proc" "$BOOT_ROOT/sys/firmware/acpi/tables"
	for d in dev etc run; do ln -s "/$d" "$BOOT_ROOT/$d"; done
	ln -s /sys/class "$BOOT_ROOT/sys/class"
	printf '%s\n' "$1" >"$BOOT_ROOT/proc/cmdline"
}

nvme discover -t tcp -a "$ADDR" -s 8009 >/tmp/nvme-discover 2>&1
sed 's/^/    /' /tmp/nvme-discover
# "TRSVCID SUBNQN" of each "nvme subsystem" entry (nvme-cli 2.x prints
# subtype, trsvcid, subnqn, traddr in that order).
awk '/^subtype:/ { nvme = ($0 ~ /nvme subsystem/) }
	/^trsvcid:/ { s = $2 } /^subnqn:/ { n = $2 }
	/^traddr:/ && nvme { print s " " n }' /tmp/nvme-discover | sort >/tmp/want
echo "nvme discover lists: $(tr '\n' ';' </tmp/want)"
nwant=$(wc -l </tmp/want)
check "nvme discover lists NVMe subsystems ($nwant)" [ "$nwant" -ge 2 ]

boot_root "BOOT_IMAGE=/vmlinuz rd.nvmf.discover=tcp,$ADDR,,8009 quiet"
now_ns
t0=$NOW
STACD_ROOT=$BOOT_ROOT "$STACD" --once --timeout 20 >/tmp/once.out 2>/tmp/once.err
rc=$?
ms_since "$t0"
echo "TIMING: stacd --once with rd.nvmf.discover: $MS ms, exit $rc"
sed 's/^/    out: /' /tmp/once.out
sed 's/^/    log: /' /tmp/once.err
check "--once exits 0 (everything live)" [ "$rc" = 0 ]
check "the log says the page was read" grep -q "discovery log page read: " /tmp/once.err
while read -r port nqn; do
	check "connected $ADDR:$port $nqn, live" ctrl_live "$port" "$nqn"
	c=$(ctrl_find "$port" "$nqn")
	[ -z "$c" ] || check "$c ctrl_loss_tmo is off (-1)" [ "$(cat "/sys/class/nvme/$c/ctrl_loss_tmo")" = off ]
done </tmp/want
check "exactly the $nwant I/O controllers (the discovery controller was deleted)" \
	[ "$(ctrl_count)" = "$nwant" ]
check "one output line per controller, all live" \
	[ "$(grep -c '^live nvme' /tmp/once.out)" = "$nwant" ]
check "boot.json lists $nwant discovery-sourced live connections" \
	[ "$(grep -o '"source":"discovery"' "$STACD_RUNDIR/boot.json" | wc -l)" = "$nwant" ]
check "boot.json: every result is live" \
	[ "$(grep -o '"result":"live"' "$STACD_RUNDIR/boot.json" | wc -l)" = "$nwant" ]
summary
