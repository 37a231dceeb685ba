#!/bin/sh
# nvmet-test-setup - TEST ONLY (ci/boot): export root.img from the disk with
# serial "nvmet-carrier" as namespace 1 of nvmet_test.nqn= (default
# nqn.2024-01.io.testbed:root) on TCP 127.0.0.1:4420, any host allowed.
# nvmet_test.blackhole=ADDR/PREFIX: also add a dummy interface with that
# address, so connects to other addresses of the prefix go nowhere (an
# unreachable target: the SYN is dropped, the kernel's connect times out).
# Runs in a dracut image (49nvmet-test, pre-trigger) and in an
# initramfs-tools image (init-premount), so it uses neither's library.

# arg NAME: the value of the last NAME= on the kernel command line
arg() {
    _v=''
    read -r _cmdline < /proc/cmdline
    for _a in $_cmdline; do
        case $_a in "$1="*) _v=${_a#*=} ;; esac
    done
    echo "$_v"
}

say() {
    echo "<30>nvmet-test: $*" > /dev/kmsg
}

fail() {
    echo "<28>nvmet-test: $*" > /dev/kmsg
    echo "nvmet-test: $*" >&2
    exit 1
}

bb=''
for b in /usr/lib/nvmet-test/busybox /bin/busybox; do
    [ -x "$b" ] && bb=$b && break
done
[ -n "$bb" ] || fail "no busybox (for ip)"
nqn=$(arg nvmet_test.nqn)
nqn=${nqn:-nqn.2024-01.io.testbed:root}
blackhole=$(arg nvmet_test.blackhole)
mnt=/run/nvmet-carrier
cfg=/sys/kernel/config/nvmet

$bb ip link set lo up || fail "cannot bring lo up"
if [ -n "$blackhole" ]; then
    modprobe dummy numdummies=0 || fail "no dummy module"
    if ! $bb ip link add blackhole0 type dummy || ! $bb ip addr add "$blackhole" dev blackhole0 ||
        ! $bb ip link set blackhole0 up; then
        fail "cannot set up $blackhole on a dummy interface"
    fi
fi

modprobe -a virtio_pci virtio_blk ext4 configfs nvmet nvmet_tcp || fail "modprobe failed"
# The disk shows up once virtio_pci has probed it; give it 10 s.
dev=''
i=0
while [ -z "$dev" ] && [ $i -lt 100 ]; do
    for s in /sys/block/vd*/serial; do
        [ -f "$s" ] || continue
        read -r serial < "$s"
        if [ "$serial" = nvmet-carrier ]; then
            dev=${s%/serial}
            dev=/dev/${dev##*/}
        fi
    done
    [ -n "$dev" ] || sleep 0.1
    i=$((i + 1))
done
[ -n "$dev" ] || fail "no virtio disk with serial nvmet-carrier"
i=0
while [ ! -b "$dev" ] && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done

# Under /run, so the mount moves into the real root at switch_root and the
# namespace's file stays open and served.
mkdir -p "$mnt"
mount -t ext4 "$dev" "$mnt" || fail "cannot mount $dev"
[ -f "$mnt/root.img" ] || fail "$dev has no root.img"

[ -d "$cfg" ] || mount -t configfs configfs /sys/kernel/config
[ -d "$cfg" ] || fail "no $cfg"
s=$cfg/subsystems/$nqn
mkdir "$s" || fail "cannot create $s"
echo 1 > "$s/attr_allow_any_host"
mkdir "$s/namespaces/1"
echo "$mnt/root.img" > "$s/namespaces/1/device_path"
echo 1 > "$s/namespaces/1/enable" || fail "cannot enable the namespace"
p=$cfg/ports/1
mkdir "$p"
echo tcp > "$p/addr_trtype"
echo ipv4 > "$p/addr_adrfam"
echo 127.0.0.1 > "$p/addr_traddr"
echo 4420 > "$p/addr_trsvcid"
ln -s "$s" "$p/subsystems/$nqn" || fail "cannot enable port 4420"
read -r up _ < /proc/uptime
say "$nqn serves $dev:root.img on tcp 127.0.0.1:4420 (uptime $up s)"
