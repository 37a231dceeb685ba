# shellcheck shell=dash
# stas-lib.sh - nvme-stas's own programs in the guest: the Debian 13 userland
# of ci/vm/stas-image (a virtio disk with serial stas-trixie) mounted on
# $STAS and entered with chroot, sharing the guest's kernel, /proc, /sys,
# /dev, /run and /tmp. Load after testbed.sh and stacd-lib.sh:
#     . /lib/testbed.sh; . /lib/stacd-lib.sh; . /lib/stas-lib.sh
# ci/test attaches the disk (vm-run -d IMAGE:stas-trixie, with the modules
# virtio_pci, virtio_blk, ext4).
#
# Inside: dbus-daemon --system with Debian's system.conf (which includes
# the policies nvme-stas installs), systemd-udevd (pyudev in Python stacd
# hears udev's events, not the kernel's), stafd, Python stacd 2.4.1 and
# stacctl, all unchanged; our stacd is copied in as $RS_STACD.

STAS=/stas
RS_STACD=/usr/local/sbin/stacd # our static binary, inside $STAS
STAS_BUS=/run/dbus/system_bus_socket
# shellcheck disable=SC2034 # for the cases
STAS_BUS_PID='' STAS_UDEV_PID='' STAFD_PID='' PYSTACD_PID=''

# stas_disk: print /dev/vdX, the disk whose serial is stas-trixie
stas_disk() {
	local b s
	for b in /sys/block/vd*; do
		s=
		read -r s 2>/dev/null <"$b/serial"
		[ "$s" != stas-trixie ] || { echo "/dev/${b##*/}"; return 0; }
	done
	return 1
}

# stas_mount: mount the image on $STAS (once per boot) with the guest's
# kernel file systems; put our stacd into it. False when there is no disk.
stas_mount() {
	local d m
	if ! grep -q " $STAS " /proc/mounts; then
		d=$(stas_disk) || { echo "stas: no disk with serial stas-trixie (ci/test attaches ci/vm/stas-image)"; return 1; }
		mkdir -p "$STAS"
		mount -t ext4 "$d" "$STAS" || return 1
		for m in proc sys dev dev/pts run tmp; do
			mount -o bind "/$m" "$STAS/$m" || return 1
		done
	fi
	mkdir -p "$STAS${RS_STACD%/*}" "$STAS/usr/local/bin"
	cp "$STACD" "$STAS$RS_STACD" && cp /lib/stas-tool.py "$STAS/usr/local/bin/stas-tool.py" &&
		chmod 755 "$STAS/usr/local/bin/stas-tool.py"
}

# stas_etc: the packaged /etc/stas back (as installed, every option
# commented out) and the guest's host NQN and ID in the chroot's /etc/nvme
stas_etc() {
	rm -rf "$STAS/etc/stas"
	cp -a "$STAS/usr/share/stas-test/etc-stas" "$STAS/etc/stas"
	mkdir -p "$STAS/etc/nvme"
	cp /etc/nvme/hostnqn /etc/nvme/hostid "$STAS/etc/nvme/"
}

# in_stas CMD...: run CMD in the chroot with a clean environment
STAS_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8"
in_stas() {
	# shellcheck disable=SC2086 # STAS_ENV is a word list on purpose
	chroot "$STAS" /usr/bin/env -i $STAS_ENV "$@"
}

# stas_bg LOG CMD...: start CMD in the chroot in the background, output to
# LOG; BG_PID is CMD's own PID (chroot and env exec it; a function run with
# & would put a subshell in between)
stas_bg() {
	local log=$1
	shift
	# shellcheck disable=SC2086 # STAS_ENV is a word list on purpose
	chroot "$STAS" /usr/bin/env -i $STAS_ENV "$@" >"$log" 2>&1 &
	BG_PID=$!
}

# as_user CMD...: run CMD in the chroot as the unprivileged user stasuser
as_user() {
	chroot "$STAS" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/stasuser \
		LANG=C.UTF-8 USER=stasuser /usr/bin/setpriv --reuid=stasuser --regid=stasuser \
		--init-groups "$@"
}

# stas_up: mount, restore /etc, start the system bus and udevd. Each case
# calls it; run-cases ends the processes after the case.
stas_up() {
	stas_mount || return 1
	stas_etc
	rm -f "$STAS_BUS" /run/dbus/pid
	mkdir -p /run/dbus /run/udev
	# What systemd's RuntimeDirectory= would make for the two daemons.
	mkdir -p /run/stacd /run/stafd
	stas_bg /tmp/stas-dbus.log dbus-daemon --system --nofork --nopidfile
	# shellcheck disable=SC2034 # for the cases
	STAS_BUS_PID=$BG_PID
	stas_bg /tmp/stas-udevd.log /usr/lib/systemd/systemd-udevd
	# shellcheck disable=SC2034 # for the cases
	STAS_UDEV_PID=$BG_PID
	wait_for "$STAS_BUS" 20 || { echo "stas: no system bus after 20 s"; cat /tmp/stas-dbus.log; return 1; }
	wait_for /run/udev/control 20 || { echo "stas: no udevd after 20 s"; cat /tmp/stas-udevd.log; return 1; }
}

# stas_versions: the versions of the programs under test, one line
stas_versions() {
	# shellcheck disable=SC2016 # dpkg-query's own ${...}
	in_stas dpkg-query -W -f '${Package} ${Version}, ' nvme-stas python3-libnvme nvme-cli python3 | sed 's/, $//'
	echo
}

# stafd_conf [ARGS]: stafd.conf with the nvmet discovery controller
# 127.0.0.1:8009 and no zeroconf (there is no avahi here)
stafd_conf() {
	# shellcheck disable=SC2153 # ADDR is stacd-lib.sh's
	cat >"$STAS/etc/stas/stafd.conf" <<-EOF
		[Service Discovery]
		zeroconf=disabled
		[Controllers]
		controller=transport=tcp;traddr=$ADDR;trsvcid=8009
	EOF
}

# stafd_real_start: nvme-stas's stafd in the chroot (STAFD_PID); log /tmp/stafd.N.log
STAFD_RUN=0
# shellcheck disable=SC2120 # the arguments are optional
stafd_real_start() {
	STAFD_RUN=$((STAFD_RUN + 1))
	STAFD_LOG=/tmp/stafd.$STAFD_RUN.log
	stas_bg "$STAFD_LOG" python3 -u /usr/sbin/stafd "$@"
	STAFD_PID=$BG_PID
	echo "started: stafd (pid $STAFD_PID, run $STAFD_RUN)"
}

# pystacd_start [ARGS]: nvme-stas's Python stacd in the chroot (PYSTACD_PID);
# log /tmp/pystacd.N.log
PYSTACD_RUN=0
# shellcheck disable=SC2120 # the arguments are optional
pystacd_start() {
	PYSTACD_RUN=$((PYSTACD_RUN + 1))
	PYSTACD_LOG=/tmp/pystacd.$PYSTACD_RUN.log
	stas_bg "$PYSTACD_LOG" python3 -u /usr/sbin/stacd "$@"
	PYSTACD_PID=$BG_PID
	echo "started: Python stacd (pid $PYSTACD_PID, run $PYSTACD_RUN)"
}

# rs_start [ARGS]: our stacd in the chroot (the same files as Python's),
# through stacd-lib.sh's stacd_start (its log, STACD_PID: chroot and env
# exec, so the PID is stacd's)
# shellcheck disable=SC2120 # the arguments are optional
rs_start() {
	local s=$STACD
	printf '#!/bin/sh\nexec chroot %s /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin %s "$@"\n' \
		"$STAS" "$RS_STACD" >/tmp/rs-stacd
	chmod 755 /tmp/rs-stacd
	STACD=/tmp/rs-stacd
	stacd_start "$@"
	STACD=$s
}

# stop_pid PID [SECS]: SIGTERM, SIGKILL after SECS (default 10); wait for it
stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	deadline "${2:-10}"
	while ! proc_gone "$1"; do
		if timed_out; then
			kill -KILL "$1" 2>/dev/null
			break
		fi
		usleep 20000
	done
	wait "$1" 2>/dev/null
}

# on_bus NAME: NAME has an owner on the system bus (dbus-send: busctl in
# the chroot fails on "Failed to get credentials")
on_bus() {
	in_stas dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus / \
		org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q true
}

# wait_bus NAME [SECS]: wait until NAME is on the bus (default 30 s)
wait_bus() {
	deadline "${2:-30}"
	until on_bus "$1"; do
		timed_out && return 1
		usleep 100000
	done
}

# stacctl ARGS...: nvme-stas's stacctl as root; output in /tmp/stacctl.out
# (stdout) and /tmp/stacctl.err; sets CTL_RC
stacctl() {
	in_stas stacctl "$@" >/tmp/stacctl.out 2>/tmp/stacctl.err
	CTL_RC=$?
	return $CTL_RC
}

# stacctl_user ARGS...: the same as stasuser
stacctl_user() {
	as_user stacctl "$@" >/tmp/stacctl.out 2>/tmp/stacctl.err
	CTL_RC=$?
	return $CTL_RC
}

# stafd_iocs: "subnqn traddr trsvcid" of every I/O controller stafd
# publishes (get_all_log_pages), sorted; empty when stafd has none (yet)
stafd_iocs() {
	in_stas dbus-send --system --print-reply=literal --dest=org.nvmexpress.staf \
		/org/nvmexpress/staf org.nvmexpress.staf.get_all_log_pages boolean:false 2>/dev/null |
		in_stas python3 /usr/local/bin/stas-tool.py iocs
}

# wait_stafd_iocs N [SECS]: wait until stafd publishes at least N I/O
# controllers (default 60 s); sets IOCS
wait_stafd_iocs() {
	deadline "${2:-60}"
	while :; do
		IOCS=$(stafd_iocs)
		[ "$(echo "$IOCS" | grep -c .)" -lt "$1" ] || return 0
		timed_out && return 1
		usleep 500000
	done
}

# ioc_list: "subnqn traddr trsvcid state" of every I/O controller the kernel
# has (the discovery controllers left out), sorted
ioc_list() {
	local c nqn addr st a s
	for c in /sys/class/nvme/nvme*; do
		[ -e "$c" ] || continue
		read -r nqn <"$c/subsysnqn"
		[ "$nqn" != nqn.2014-08.org.nvmexpress.discovery ] || continue
		read -r addr <"$c/address"
		read -r st <"$c/state"
		a=${addr#traddr=}
		a=${a%%,*}
		s=${addr#*trsvcid=}
		s=${s%%,*}
		echo "$nqn $a $s $st"
	done | sort
}

# ioc_snapshot: ctrl_snapshot without the discovery controllers
ioc_snapshot() {
	ctrl_snapshot | grep -v ' nqn.2014-08.org.nvmexpress.discovery '
}

# iocs_connected LIST: every "subnqn traddr trsvcid" line of LIST has
# exactly one live I/O controller, and there is no other I/O controller
iocs_connected() {
	local want have
	want=$(echo "$1" | grep . | sed 's/$/ live/' | sort)
	have=$(ioc_list)
	[ "$want" = "$have" ] && return 0
	printf 'want:\n%s\nkernel:\n%s\n' "$want" "$have"
	return 1
}

# wait_iocs LIST [SECS]: wait until iocs_connected LIST (default 30 s)
wait_iocs() {
	deadline "${2:-30}"
	until iocs_connected "$1" >/dev/null; do
		timed_out && { iocs_connected "$1"; return 1; }
		usleep 200000
	done
}

# nvmet_sub_add NQN SVC: a new subsystem NQN (no namespace; any host) on
# the nvmet port 127.0.0.1:SVC. Linking it changes the port's discovery
# log page: nvmet sends the discovery controllers there a "discovery log
# page changed" AEN (drivers/nvme/target/discovery.c, nvmet_port_disc_changed).
nvmet_sub_add() {
	local d=/sys/kernel/config/nvmet/subsystems/$1 p
	p=$(nvmet_port "$2") || return 1
	mkdir "$d" && echo 1 >"$d/attr_allow_any_host" && ln -s "$d" "$p/subsystems/$1"
}

# nvmet_sub_unlink NQN SVC: take NQN off port SVC (the same AEN; nvmet also
# ends its controllers there, so the host's controller starts reconnecting
# until its ctrl_loss_tmo unless someone deletes it)
nvmet_sub_unlink() {
	local p
	p=$(nvmet_port "$2") || return 1
	rm "$p/subsystems/$1"
}

# ctrl_attrs: one line per controller of the kernel, sorted: "transport
# traddr trsvcid subsysnqn" and every connect option sysfs shows
# (drivers/nvme/host/core.c, nvme_dev_attrs; the address attribute of
# fabrics.c, nvmf_get_address, gives host_traddr and host_iface), then
# its state
ctrl_attrs() {
	local c a v addr k line
	for c in /sys/class/nvme/nvme*; do
		[ -e "$c" ] || continue
		read -r addr <"$c/address"
		read -r v <"$c/transport"
		line=$v
		for k in traddr trsvcid; do
			v=
			case ",$addr," in *",$k="*) v=${addr#*"$k="} && v=${v%%,*} ;; esac
			line="$line ${v:--}"
		done
		read -r v <"$c/subsysnqn"
		line="$line $v"
		for k in host_traddr host_iface; do
			v=
			case ",$addr," in *",$k="*) v=${addr#*"$k="} && v=${v%%,*} ;; esac
			line="$line $k=${v:--}"
		done
		for a in hostnqn hostid kato ctrl_loss_tmo reconnect_delay fast_io_fail_tmo queue_count \
			sqsize dhchap_secret dhchap_ctrl_secret state; do
			v=-
			[ ! -r "$c/$a" ] || read -r v <"$c/$a" 2>/dev/null || v=-
			line="$line $a=${v:--}"
		done
		echo "$line"
	done | sort
}
