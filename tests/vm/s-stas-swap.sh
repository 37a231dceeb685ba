#!/bin/sh
# s) The swap as a Debian user does it: the Debian 13 userland
# (stas-image) boots its own systemd as PID 1 of a PID and mount namespace
# in the guest, with nvme-stas's stafd.service and stacd.service (Python)
# enabled as its package left them; they connect what stafd.conf and
# stacd.conf name. Then `dpkg -i` of our package (ci/deb): it diverts
# nvme-stas's /usr/sbin/stacd, unit and bus policy, restarts stacd.service
# as ours, which adopts every controller (none dropped or reconnected);
# stafd, nvme-stas's stacctl and /etc/stas/stacd.conf stay as they were.
# `dpkg -r stacd` gives nvme-stas's stacd back the same way.
# ci/test puts the package into the guest as /opt/stacd.deb.
# case-timeout: 400
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh
# shellcheck source=../../ci/vm/guest/stas-lib.sh
. /lib/stas-lib.sh

DEB=/opt/stacd.deb
check "our package is in the guest" [ -f "$DEB" ]
check "the Debian 13 userland is mounted" stas_mount || { summary; exit 1; }
stas_etc
stafd_conf
printf '[Controllers]\ncontroller = transport=tcp;traddr=%s;trsvcid=4420;nqn=%s\n' "$ADDR" "$SUB1" \
	>"$STAS/etc/stas/stacd.conf"
conf_sum=$(md5sum <"$STAS/etc/stas/stacd.conf")
cp "$DEB" /tmp/stacd.deb
[ -s "$STAS/etc/machine-id" ] || tr -d - </proc/sys/kernel/random/uuid >"$STAS/etc/machine-id"
mkdir -p /run/stacd /run/stafd
SDLOG=/tmp/stas-systemd.log
# No getty on the VM's console (systemd starts one in a container), and
# no modprobe@ (the image has no kmod; the test bed loaded the modules):
# masked in /etc, the administrator's place for it.
for u in console-getty.service container-getty@.service getty@.service modprobe@.service; do
	ln -sf /dev/null "$STAS/etc/systemd/system/$u"
done

# inside CMD...: CMD in systemd's namespaces (systemd answers only clients
# it can see)
inside() {
	chroot "$STAS" /usr/bin/nsenter -t "$SD" -p -m -r -w -- /usr/bin/env -i \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}
sd() { inside systemctl --no-pager "$@"; }
# main_exe UNIT: the program of UNIT's main process
main_exe() {
	p=$(sd show -p MainPID --value "$1")
	[ -n "$p" ] && [ "$p" != 0 ] && inside readlink "/proc/$p/exe"
}
# main_cmd UNIT: the command line of UNIT's main process
main_cmd() {
	p=$(sd show -p MainPID --value "$1")
	[ -n "$p" ] && [ "$p" != 0 ] && inside cat "/proc/$p/cmdline" | tr '\0' ' '
}
# python_main UNIT: UNIT's main process is nvme-stas's Python stacd
python_main() {
	case $(main_cmd "$1") in *python3*/usr/sbin/stacd*) return 0 ;; esac
	echo "    $1: $(main_cmd "$1")"
	return 1
}
# ctl_lists N: the last stacctl exited 0 and listed N controllers
ctl_lists() {
	[ "$CTL_RC" = 0 ] && [ "$(grep -c "'device': 'nvme" /tmp/stacctl.out)" = "$1" ]
}
systemd_up() {
	[ -n "$SD" ] || return 1
	case $(sd is-system-running 2>/dev/null) in running | degraded) return 0 ;; esac
	return 1
}
# ours_main UNIT: UNIT's main process is our binary, /usr/sbin/stacd run
# directly (its exe link reads /stas/usr/sbin/stacd from here: the service
# has a mount namespace of its own)
ours_main() {
	e=$(main_exe "$1")
	case "$(main_cmd "$1")|$e" in "/usr/sbin/stacd "*"|"*/usr/sbin/stacd) return 0 ;; esac
	echo "    $1 runs: ${e:-?} ($(main_cmd "$1"))"
	return 1
}
wait_active() { # wait_active UNIT [SECS]
	deadline "${2:-60}"
	until sd is-active --quiet "$1"; do
		timed_out && return 1
		usleep 200000
	done
}
# systemd as PID 1 of new PID and mount namespaces, in the chroot.
# `container=` tells it that it is not the machine's init.
chroot "$STAS" /usr/bin/env -i container=stacd-vm PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	unshare --pid --fork --mount --mount-proc --propagation private \
	/usr/lib/systemd/systemd --system --unit=multi-user.target --log-target=console --log-level=warning \
	>"$SDLOG" 2>&1 </dev/null &
UNSHARE=$!
SD=''
deadline 90
while [ -z "$SD" ] && ! timed_out; do
	for st in /proc/[0-9]*/stat; do
		read -r p _ _ pp _ 2>/dev/null <"$st" || continue
		[ "$pp" != "$UNSHARE" ] || SD=$p
	done
	usleep 200000
done
until [ -z "$SD" ] || systemd_up || timed_out; do usleep 200000; done
echo "systemd (pid $SD here): $(sd is-system-running 2>&1)"
check "systemd runs in the Debian 13 userland" systemd_up
sd --failed | sed 's/^/    /'
check "nvme-stas's stafd.service is active" wait_active stafd.service 90
check "nvme-stas's stacd.service is active" wait_active stacd.service 90
check "stacd.service's main process is python3 /usr/sbin/stacd" python_main stacd.service
check "stafd publishes 2 I/O controllers" wait_stafd_iocs 2 90
WANT="$IOCS
$SUB1 $ADDR 4420"
check "nvme-stas's stacd connects the 3 controllers" wait_iocs "$WANT" 60
usleep 2000000
snap=$(ioc_snapshot)
stafd_pid=$(sd show -p MainPID --value stafd.service)

# The swap: dpkg -i.
inside dpkg -i /tmp/stacd.deb >/tmp/dpkg-i.log 2>&1
rc=$?
sed 's/^/    /' /tmp/dpkg-i.log
check "dpkg -i stacd.deb succeeds" [ "$rc" = 0 ]
inside dpkg-divert --list '*stac*' >/tmp/diversions 2>&1
sed 's/^/    /' /tmp/diversions
check "nvme-stas's /usr/sbin/stacd is diverted" \
	grep -q "diversion of /usr/sbin/stacd to /usr/sbin/stacd.nvme-stas by stacd" /tmp/diversions
check "... and its unit" grep -q "/usr/lib/systemd/system/stacd.service.nvme-stas by stacd" /tmp/diversions
check "/usr/sbin/stacd is ours" sh -c "chroot $STAS /usr/sbin/stacd --version | grep -q 'nvme-stas 3.0 compatible'"
check "stacd.service is active again" wait_active stacd.service 30
check "stacd.service's main process is ours (/usr/sbin/stacd)" ours_main stacd.service
check "systemctl cat stacd: our unit (Type=notify)" sh -c "chroot $STAS cat /usr/lib/systemd/system/stacd.service | grep -q '^Type=notify'"
inside journalctl --no-pager -u stacd.service -o cat >/tmp/stacd-journal 2>&1
deadline 20
until [ "$(grep -c '(adopted)' /tmp/stacd-journal)" -ge 3 ] || timed_out; do
	usleep 500000
	inside journalctl --no-pager -u stacd.service -o cat >/tmp/stacd-journal 2>&1
done
check "ours adopts the 3 controllers (journal: '... Connection established! (adopted)')" \
	[ "$(grep -c 'Connection established! (adopted)' /tmp/stacd-journal)" -ge 3 ]
usleep 2000000
check "the switch dropped and reconnected nothing" same_snapshot "$snap" "$(ioc_snapshot)"
check "stafd.service untouched (same process)" [ "$(sd show -p MainPID --value stafd.service)" = "$stafd_pid" ]
check "/etc/stas/stacd.conf kept as it was" [ "$(md5sum <"$STAS/etc/stas/stacd.conf")" = "$conf_sum" ]
stacctl ls
check "nvme-stas's stacctl ls works against ours: the 3 controllers" ctl_lists 3
stacctl_user status
check "... and status as stasuser" [ "$CTL_RC" = 0 ]

# The way back: dpkg -r.
inside dpkg -r stacd >/tmp/dpkg-r.log 2>&1
rc=$?
sed 's/^/    /' /tmp/dpkg-r.log
check "dpkg -r stacd succeeds" [ "$rc" = 0 ]
check "no diversion left" sh -c "! chroot $STAS dpkg-divert --list | grep -q 'by stacd'"
check "/usr/sbin/stacd is nvme-stas's again" sh -c "head -n 1 $STAS/usr/sbin/stacd | grep -q python3"
check "stacd.service is active" wait_active stacd.service 30
check "stacd.service runs nvme-stas's Python stacd again" python_main stacd.service
check "nvme-stas's stacd is on the bus again" wait_bus org.nvmexpress.stac 60
usleep 3000000
check "the way back dropped and reconnected nothing" same_snapshot "$snap" "$(ioc_snapshot)"
check "stafd.service untouched (same process)" [ "$(sd show -p MainPID --value stafd.service)" = "$stafd_pid" ]
check "/etc/stas/stacd.conf still as it was" [ "$(md5sum <"$STAS/etc/stas/stacd.conf")" = "$conf_sum" ]
stacctl ls
check "stacctl ls against nvme-stas's stacd: the 3 controllers" ctl_lists 3

echo "--- systemd:"
grep -v '^$' "$SDLOG" | tail -n 20 | sed 's/^/    /'
kill -KILL "$SD" "$UNSHARE" 2>/dev/null
wait "$UNSHARE" 2>/dev/null
rm -rf /run/systemd /run/dbus /run/udev
summary
