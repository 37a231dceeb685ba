#!/bin/sh
# target.sh - the target VM of the two-VM boot tests (ci/netboot/run runs it
# under ci/vm/vm-run): the kernel's nvmet serves the root image (the first
# virtio disk) as namespace 1 of nqn.2024-01.io.testbed:root on its NIC
# addresses, busybox udhcpd answers DHCP on the first NIC, and commands
# arrive on the second serial port (/dev/ttyS1, the control channel), one
# per line, each answered with "ok CMD" or "error CMD: why":
#   reset        every path on, as at start (between cases)
#   off PATH     PATH (a, b or disc) silent: nvmet stops listening there
#                and the address goes, so packets vanish (a dead path)
#   on PATH      PATH back
#   status       the ports and the addresses, on the console
#   quit         power off
# Paths: a = 192.168.50.1:4420 on eth0, b = [fd00:51::1]:4420 on eth1.100
# (VLAN 100), disc = 192.168.50.1:8009 (discovery and I/O).
NQN=nqn.2024-01.io.testbed:root
cfg=/sys/kernel/config/nvmet
say() { echo "target: $*"; }

ip link set eth0 up
ip addr add 192.168.50.1/24 dev eth0
ip link set eth1 up
vconfig add eth1 100 >/dev/null
ip link set eth1.100 up
# no duplicate address detection: nvmet cannot listen on a tentative
# address (EADDRNOTAVAIL)
echo 0 >/proc/sys/net/ipv6/conf/eth1.100/accept_dad
addr_b() { ip -6 addr add fd00:51::1/64 dev eth1.100; }
addr_b

modprobe nvmet-tcp
s=$cfg/subsystems/$NQN
mkdir "$s"
echo 1 >"$s/attr_allow_any_host"
mkdir "$s/namespaces/1"
echo /dev/vda >"$s/namespaces/1/device_path"
echo 1 >"$s/namespaces/1/enable"
port() { # port N FAMILY ADDR SVC
	mkdir "$cfg/ports/$1"
	echo tcp >"$cfg/ports/$1/addr_trtype"
	echo "$2" >"$cfg/ports/$1/addr_adrfam"
	echo "$3" >"$cfg/ports/$1/addr_traddr"
	echo "$4" >"$cfg/ports/$1/addr_trsvcid"
}
port 1 ipv4 192.168.50.1 4420
port 2 ipv6 fd00:51::1 4420
port 3 ipv4 192.168.50.1 8009
num() { case $1 in a) echo 1 ;; b) echo 2 ;; disc) echo 3 ;; *) return 1 ;; esac; }
link_on() { [ -L "$cfg/ports/$1/subsystems/$NQN" ] || ln -s "$s" "$cfg/ports/$1/subsystems/$NQN"; }
link_off() { [ ! -L "$cfg/ports/$1/subsystems/$NQN" ] || rm "$cfg/ports/$1/subsystems/$NQN"; }
path_on() {
	n=$(num "$1") || return 1
	case $1 in b) ip -6 addr show dev eth1.100 | grep -q fd00:51::1 || addr_b ;; esac
	link_on "$n"
}
path_off() {
	n=$(num "$1") || return 1
	link_off "$n"
	case $1 in b) ip -6 addr del fd00:51::1/64 dev eth1.100 ;; esac
	return 0
}
for p in a b disc; do path_on $p; done

mkdir -p /etc /var/lib/misc
touch /var/lib/misc/udhcpd.leases
cat >/etc/udhcpd.conf <<'CONF'
start 192.168.50.100
end 192.168.50.150
interface eth0
max_leases 50
lease_file /var/lib/misc/udhcpd.leases
option subnet 255.255.255.0
option router 192.168.50.1
option lease 3600
CONF
udhcpd -S /etc/udhcpd.conf

stty -F /dev/ttyS1 raw -echo 2>/dev/null
# opened once: a tty's input is flushed when its last reader closes it
exec 3</dev/ttyS1 4>/dev/ttyS1
say "ready: $NQN on 192.168.50.1:4420, [fd00:51::1]:4420 (eth1.100), 192.168.50.1:8009; DHCP on eth0"
echo "ok ready" >&4
while IFS= read -r cmd <&3; do
	cmd=$(printf '%s' "$cmd" | tr -d '\r')
	[ -n "$cmd" ] || continue
	say "command: $cmd"
	case $cmd in
	reset) for p in a b disc; do path_on $p; done; r=$? ;;
	off\ *) path_off "${cmd#off }"; r=$? ;;
	on\ *) path_on "${cmd#on }"; r=$? ;;
	status)
		for p in "$cfg"/ports/*; do say "port ${p##*/} $(cat "$p/addr_traddr"):$(cat "$p/addr_trsvcid") $(ls "$p/subsystems")"; done
		ip addr | sed 's/^/target: /'
		r=0
		;;
	quit) echo "ok quit" >&4; break ;;
	*) r=1 ;;
	esac
	if [ "$r" = 0 ]; then echo "ok $cmd" >&4; else echo "error $cmd" >&4; fi
done
say "done"
