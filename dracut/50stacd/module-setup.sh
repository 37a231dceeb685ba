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

# stacd_devs DEV (major:minor): collect DEV for the binary (used with
# for_each_host_dev_and_slaves_all)
stacd_devs() {
    _stacd_devs="${_stacd_devs:+$_stacd_devs }$1"
    return 1 # see every device
}

# root_cmdline: the binary's answer for the devices under root: the host
# identity and one rd.nvmf.connect per fabrics controller (tcp, rdma, fc)
# behind them; status 0 only if there is one (`stacd --boot-cmdline`)
root_cmdline() {
    local bin
    bin=$(stacd_bin) || return 1
    _stacd_devs=''
    for_each_host_dev_and_slaves_all stacd_devs
    [[ $_stacd_devs ]] || return 1
    # shellcheck disable=SC2086 # a word list
    "$dracutsysrootdir$bin" --boot-cmdline $_stacd_devs 2> /dev/null
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
        root_cmdline > /dev/null && return 0
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

# called by dracut (dracut --print-cmdline, hostonly_cmdline)
# (the binary reads root's controllers from sysfs: the exact subsystem
# and address, not a discovery controller at the I/O controller's address
# as 95nvmf writes)
cmdline() {
    local args
    args=$(root_cmdline)
    echo "${args:+ $args} "
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
        # inst_multiple -o: optional files, looked up in the sysroot. The
        # host's DH-HMAC-CHAP key (sys.conf [Host] key= or hostkey) is what
        # an NBFT security profile asking for authentication is answered
        # with (docs/configuration.md, "Keys at boot")
        inst_multiple -H -o /etc/nvme/hostnqn /etc/nvme/hostid /etc/nvme/hostkey /etc/stas/sys.conf
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
