#!/bin/bash
# 50stacd - boot from NVMe over Fabrics with stacd in the initramfs.
#
# dracut sources this file at build time and calls the functions below
# (dracut.modules(7)). At boot, the hooks it installs connect the targets
# the kernel command line (rd.nvmf.*, rd.stacd.*) and the NBFT name, with
# the static stacd binary, and leave /run/stacd/boot.json for the stacd
# service on the real root, which adopts those connections without a
# disconnect. See README.md here for the boot sequence and coexistence with
# dracut's own nvmf module.
#
# Settings (dracut.conf.d):
#   stacd_binary=PATH      the binary to install (default: stacd in $PATH,
#                          i.e. /usr/sbin/stacd); a --no-default-features
#                          build is the small one
#   stacd_network=auto|yes|no
#                          depend on dracut's network module: auto (default)
#                          when it exists in this dracut, no for FC-only or
#                          loopback images
#   stacd_config=yes       also copy /etc/stas/stacd.conf into host-only images
#                          (its controllers are then connected at boot too)
# shellcheck disable=SC2154 # hostonly, moddir, initdir... are dracut's

# stacd_bin: the binary's path on the build system (inside the sysroot)
stacd_bin() {
    local b
    if [[ $stacd_binary ]]; then
        b=$stacd_binary
    else
        b=$(find_binary stacd) || return 1
    fi
    [[ -x $dracutsysrootdir$b ]] || return 1
    printf '%s\n' "$b"
}

# is_fabrics DEV (major:minor): the block device sits on an NVMe-oF
# controller (tcp, rdma or fc); used with for_each_host_dev_and_slaves.
# A namespace's device/ is its controller, or with native multipath its
# subsystem with one nvmeN per path (drivers/nvme/host/multipath.c); a
# partition's is one level up.
is_fabrics() {
    local d t
    [[ -L /sys/dev/block/$1 ]] || return 1
    for d in /sys/dev/block/"$1"/device /sys/dev/block/"$1"/device/nvme* \
        /sys/dev/block/"$1"/../device /sys/dev/block/"$1"/../device/nvme*; do
        [[ -f $d/transport ]] || continue
        read -r t < "$d/transport"
        [[ $t == tcp || $t == rdma || $t == fc ]] && return 0
    done
    return 1
}

# has_nbft: the firmware published an NVMe Boot Firmware Table
has_nbft() {
    local t
    for t in /sys/firmware/acpi/tables/NBFT*; do
        [[ -e $t ]] && return 0
    done
    return 1
}

# called by dracut: 1 without the binary; in host-only mode 0 only when this
# host boots from NVMe-oF (root on a fabrics controller, an NBFT, or a
# stacd.conf asked for), else 255 (only on request). Never requires
# /etc/nvme/hostnqn: the command line or the NBFT may name the host.
check() {
    stacd_bin > /dev/null || {
        dwarn "50stacd: no stacd binary (set stacd_binary= or install /usr/sbin/stacd)"
        return 1
    }
    if [[ $hostonly ]] || [[ $mount_needs ]]; then
        for_each_host_dev_and_slaves is_fabrics && return 0
        has_nbft && return 0
        [[ $stacd_config == yes && -f $dracutsysrootdir/etc/stas/stacd.conf ]] && return 0
        return 255
    fi
    return 0
}

# module_exists NAME: this dracut has a module NAME (e.g. network, initqueue)
module_exists() {
    local d
    for d in "$dracutbasedir"/modules.d/[0-9][0-9]"$1"; do
        [[ -d $d ]] && return 0
    done
    return 1
}

# called by dracut. rootfs-block handles root=UUID= and friends. network
# only where it exists: Debian ships it apart (dracut-network), and a
# loopback or FC image does not need it. dracut-ng >= 108 has initqueue as
# a module; 059 has it in base (install() asks for it).
depends() {
    local deps="rootfs-block"
    case ${stacd_network:-auto} in
        yes) deps+=" network" ;;
        auto) module_exists network && deps+=" network" ;;
    esac
    module_exists initqueue && deps+=" initqueue"
    echo "$deps"
    return 0
}

# called by dracut: the fabrics and transports (tcp always; rdma, fc and
# VLANs for NBFT only where the host has them in host-only mode)
installkernel() {
    hostonly='' instmods nvme_fabrics nvme_tcp
    instmods nvme_rdma nvme_fc 8021q
}

# cmdline_args: the kernel command line that boots this host's root: the
# host identity, and one rd.nvmf.connect per fabrics controller under the
# root file system (the exact subsystem and address, not a discovery
# controller at the I/O controller's address as 95nvmf writes)
cmdline_args() {
    local nqn id
    if [[ -s $dracutsysrootdir/etc/nvme/hostnqn ]]; then
        read -r nqn < "$dracutsysrootdir/etc/nvme/hostnqn"
        printf ' rd.nvmf.hostnqn=%s' "$nqn"
    fi
    if [[ -s $dracutsysrootdir/etc/nvme/hostid ]]; then
        read -r id < "$dracutsysrootdir/etc/nvme/hostid"
        printf ' rd.nvmf.hostid=%s' "$id"
    fi
    for_each_host_dev_and_slaves_all connect_args
    return 0
}

# connect_args DEV (major:minor): rd.nvmf.connect for each fabrics
# controller of DEV (found as in is_fabrics)
connect_args() {
    local d t a nqn traddr svc host_traddr kv found=1
    for d in /sys/dev/block/"$1"/device /sys/dev/block/"$1"/device/nvme* \
        /sys/dev/block/"$1"/../device /sys/dev/block/"$1"/../device/nvme*; do
        [[ -f $d/transport && -f $d/address && -f $d/subsysnqn ]] || continue
        read -r t < "$d/transport"
        [[ $t == tcp || $t == rdma || $t == fc ]] || continue
        read -r a < "$d/address"
        read -r nqn < "$d/subsysnqn"
        traddr='' svc='' host_traddr=''
        # address: "traddr=A,trsvcid=S,host_traddr=H,src_addr=..."
        # (drivers/nvme/host/fabrics.c, nvmf_get_address)
        for kv in ${a//,/ }; do
            case $kv in
                traddr=*) traddr=${kv#traddr=} ;;
                trsvcid=*) svc=${kv#trsvcid=} ;;
                host_traddr=*) host_traddr=${kv#host_traddr=} ;;
            esac
        done
        [[ $traddr ]] || continue
        printf ' rd.nvmf.connect=%s,%s,%s,%s%s' "$t" "$traddr" "$nqn" "$svc" "${host_traddr:+,$host_traddr}"
        found=0
    done
    return $found
}

# called by dracut (dracut --print-cmdline, hostonly_cmdline)
cmdline() {
    cmdline_args | tr ' ' '\n' | awk 'NF && !seen[$0]++' | tr '\n' ' '
    echo
}

# called by dracut
install() {
    local bin args
    bin=$(stacd_bin) || return 1
    inst_binary "$bin" /usr/sbin/stacd
    inst_script "$moddir/stacd-connect.sh" /sbin/stacd-connect
    inst_hook cmdline 92 "$moddir/stacd-cmdline.sh"
    inst_hook initqueue/online 60 "$moddir/stacd-online.sh"
    inst_hook pre-pivot 90 "$moddir/stacd-pre-pivot.sh"
    inst_hook emergency 50 "$moddir/stacd-emergency.sh"
    # With systemd in the image and rd.shell=0, dracut-emergency.service
    # sources the shutdown-emergency hooks instead of the emergency ones
    # (98dracut-systemd/dracut-emergency.sh): the same report there (the
    # script prints it once)
    inst_hook shutdown-emergency 50 "$moddir/stacd-emergency.sh"
    # defaults for the boot, before the real command line (which wins:
    # dracut and stacd read /etc/cmdline.d/*.conf first): continue once
    # root's path is up plus a grace period, not only when every path is
    inst_simple "$moddir/stacd-defaults.conf" /etc/cmdline.d/10-stacd-defaults.conf
    if [[ $hostonly ]]; then
        # inst_multiple -o: optional files, looked up in the sysroot
        inst_multiple -H -o /etc/nvme/hostnqn /etc/nvme/hostid /etc/stas/sys.conf
        [[ $stacd_config == yes ]] && inst_multiple -H -o /etc/stas/stacd.conf
    fi
    if [[ $hostonly_cmdline == yes ]]; then
        args=$(cmdline)
        [[ ${args// /} ]] && printf '%s\n' "$args" > "${initdir}/etc/cmdline.d/50-stacd.conf"
    fi
    if dracut_module_included nvmf; then
        dwarn "50stacd: dracut's nvmf module is in this image too; both will connect (see 50stacd/README.md)"
    fi
    dracut_need_initqueue
}
