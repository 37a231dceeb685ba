#!/bin/sh
# n) The shipped unit (etc/systemd/stacd.service) under systemd on the real
# kernel: Debian's systemd runs as PID 1 of a PID and mount namespace in the
# guest and starts stacd.service with all its hardening. Through it stacd
# connects over /dev/nvme-fabrics (DevicePolicy=closed), reads a discovery
# log page (NVME_IOCTL_ADMIN_CMD on /dev/nvmeN, CAP_SYS_ADMIN only),
# disconnects through sysfs (ProtectSystem=strict), hears kernel uevents;
# `systemctl reload` and `systemctl stop` behave as documented, and a
# restart adopts. ci/test puts systemd, systemctl, unshare, a few target
# units and the unit into the guest (host packages systemd, util-linux).
# systemctl runs inside the namespaces (nsenter): systemd refuses a client
# whose process it cannot see.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

SYSTEMD=/lib/systemd/systemd
UNITS=/etc/systemd/system
SVCLOG=/run/stacd-service.log
SDLOG=/tmp/systemd.log
DC=nqn.2014-08.org.nvmexpress.discovery

if [ ! -x "$SYSTEMD" ] || [ ! -x /bin/systemctl ] || [ ! -x /usr/bin/nsenter ] ||
	[ ! -x /usr/bin/unshare ] || [ ! -f /opt/stacd.service ]; then
	check "systemd, systemctl, unshare, nsenter and the unit are in the guest (ci/test puts them there)" false
	summary
	exit 1
fi

# The unit as installed, plus the test's own drop-in: no journald here, so
# the service's output goes to a file (stacd --syslog finds no /dev/log and,
# with ProtectKernelLogs, no /dev/kmsg: it falls back to standard error).
mkdir -p "$UNITS/multi-user.target.wants" "$UNITS/stacd.service.d" /var/tmp /etc/stas
cp /opt/stacd.service "$UNITS/stacd.service"
ln -sf "$UNITS/stacd.service" "$UNITS/multi-user.target.wants/stacd.service"
printf '[Service]\nStandardOutput=append:%s\nStandardError=inherit\n' "$SVCLOG" \
	>"$UNITS/stacd.service.d/test-output.conf"
[ -s /etc/machine-id ] || tr -d - </proc/sys/kernel/random/uuid >/etc/machine-id
conf_write 4420 "$SUB1" 4420 "$SUB2"
: >"$SVCLOG"

inside() { /usr/bin/nsenter -t "$SD" -p -m -- "$@"; }
sd() { inside systemctl --no-pager "$@"; }
svc_has() { grep -qF -- "$1" "$SVCLOG"; }
svc_count() { grep -cF -- "$1" "$SVCLOG"; }
# svc_wait PATTERN [COUNT] [SECS]
svc_wait() {
	deadline "${3:-15}"
	until [ "$(svc_count "$1")" -ge "${2:-1}" ]; do
		timed_out && return 1
		usleep 50000
	done
}
main_pid() { sd show -p MainPID --value stacd; }
status_of() { # status_of PID FIELD: FIELD of /proc/PID/status, PID as systemd sees it
	# shellcheck disable=SC2016 # awk's own $1, $2
	inside awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# systemd as PID 1 of new PID and mount namespaces. `container=` tells it
# that it is not the machine's init (no console, no reboot).
container=stacd-vm /usr/bin/unshare --pid --fork --mount --mount-proc --propagation private \
	"$SYSTEMD" --system --unit=multi-user.target --log-target=console --log-level=notice \
	>"$SDLOG" 2>&1 </dev/null &
UNSHARE=$!
# systemd is unshare's child
SD=''
deadline 30
while :; do
	for st in /proc/[0-9]*/stat; do
		read -r p _ _ pp _ 2>/dev/null <"$st" || continue
		[ "$pp" != "$UNSHARE" ] || SD=$p
	done
	[ -z "$SD" ] || ! [ -S /run/systemd/private ] || break
	timed_out && break
	usleep 100000
done
until timed_out; do
	case $(sd is-system-running 2>/dev/null) in running | degraded) break ;; esac
	usleep 100000
done
echo "systemd (pid $SD here): $(sd is-system-running 2>&1)"
check "systemd runs" [ -n "$SD" ] && [ -S /run/systemd/private ]
check "stacd.service is active (it sent READY=1)" sd is-active --quiet stacd
sd status stacd | sed 's/^/    /'
pid=$(main_pid)
check "the hardening is applied: bounding set CAP_SYS_ADMIN only" \
	[ "$(status_of "$pid" CapBnd)" = 0000000000200000 ]
check "NoNewPrivs and a seccomp filter" \
	[ "$(status_of "$pid" NoNewPrivs)/$(status_of "$pid" Seccomp)" = 1/2 ]
check "2 controllers live (connected through /dev/nvme-fabrics)" wait_live 2 20
check "log: 2 x Connection established!" svc_wait "Connection established!" 2
sub1=$(ctrl_snapshot | grep -F " $SUB1 ")

# systemctl reload: SIGHUP; SUB2's line removed -> disconnected through sysfs
conf_write 4420 "$SUB1"
check "systemctl reload succeeds" sd reload stacd
check "the same main process" [ "$(main_pid)" = "$pid" ]
check "log: reloading" svc_wait "reloading $STACD_CONF"
check "log: Disconnect initiated ($SUB2)" svc_wait "$(stacd_id 4420 "$SUB2") | nvme"
deadline 15
until all_live 1 || timed_out; do usleep 50000; done
check "SUB2's controller deleted (delete_controller written)" all_live 1

# systemctl stop: every connection stays, /run/stacd is kept
snap=$(ctrl_snapshot)
check "systemctl stop succeeds" sd stop stacd
check "log: exiting; connections stay up" svc_has "exiting; connections stay up"
check "no stacd process left" [ -z "$(pidof stacd)" ]
check "every controller still there" same_snapshot "$snap" "$(ctrl_snapshot)"
check "/run/stacd/state.json kept (RuntimeDirectoryPreserve=yes)" [ -s "$STACD_RUNDIR/state.json" ]

# systemctl start: adopted, nothing reconnected
check "systemctl start succeeds" sd start stacd
check "log: adopted again" svc_wait "Connection established! (adopted)"
usleep 500000
check "the same controller (no reconnect)" same_snapshot "$snap" "$(ctrl_snapshot)"

# A discovery controller: its log page (an admin command on /dev/nvmeN)
# lists both subsystems at the discovery port, and they are connected.
{
	cat "$STACD_CONF"
	echo "[Standalone]"
	echo "discovery-controller = transport=tcp;traddr=$ADDR;trsvcid=8009"
} >"$STACD_CONF.new" && mv "$STACD_CONF.new" "$STACD_CONF"
check "systemctl reload succeeds" sd reload stacd
check "log: discovery log page read" svc_wait "discovery log page read"
check "log: both subsystems at 8009 connected" svc_wait "$(stacd_id 8009 "$SUB2") | nvme"
check "4 controllers live: SUB1 at 4420, the discovery controller, SUB1 and SUB2 at 8009" \
	wait_live 4 20
check "the discovery controller is kept connected" \
	grep -qx "$DC" /sys/class/nvme/nvme*/subsysnqn

# A controller deleted behind stacd's back: the kernel's uevent reaches it
# (netlink, RestrictAddressFamilies) and it connects the controller again.
dev=$(grep -lx "$SUB2" /sys/class/nvme/nvme*/subsysnqn | head -n 1)
dev=${dev%/subsysnqn}
dev=${dev##*/}
nvmf_disconnect "$dev"
check "log: Received \"remove\" event for $dev" svc_wait "| $dev - Received \"remove\" event"
check "log: reconnecting" svc_wait "| $dev - controller removed from the kernel; reconnecting"
check "4 controllers live again" wait_live 4 20
snap=$(ctrl_snapshot)
check "systemctl stop succeeds" sd stop stacd
check "every controller still there, the discovery controller too" \
	same_snapshot "$snap" "$(ctrl_snapshot)"
check "SUB1's first controller was never reconnected" snapshot_keeps "$sub1" "$snap"

echo "--- service output:"
sed 's/^/    /' "$SVCLOG"
echo "--- systemd:"
grep -v '^$' "$SDLOG" | tail -n 25 | sed 's/^/    /'
kill -KILL "$SD" "$UNSHARE" 2>/dev/null
wait "$UNSHARE" 2>/dev/null
# Leave nothing that says systemd runs here (sd_booted) for later cases.
rm -rf /run/systemd "$UNITS/stacd.service" "$UNITS/stacd.service.d" \
	"$UNITS/multi-user.target.wants" "$SVCLOG"
summary
