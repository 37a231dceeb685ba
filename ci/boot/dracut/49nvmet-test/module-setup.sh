#!/bin/bash
# shellcheck disable=SC2154 # moddir is set by dracut
# 49nvmet-test - TEST ONLY: start the kernel's NVMe/TCP target (nvmet) inside
# the initramfs, before 50stacd connects, so that one QEMU VM can boot from
# an NVMe/TCP root without a second machine (docs/design.md §B6.5, Tier 1). The
# namespace is the file root.img on the virtio disk whose serial is
# "nvmet-carrier"; it is served on 127.0.0.1:4420. Never put this module in
# a real image: it exports a disk to anyone who can reach the port.

# called by dracut: only when asked for (--modules/--add)
check() {
    return 255
}

# called by dracut
depends() {
    echo base
    return 0
}

# called by dracut: the target, the carrier disk's driver and file system,
# and dummy for the unreachable-target network
installkernel() {
    hostonly='' instmods configfs nvmet nvmet_tcp virtio_pci virtio_blk ext4 dummy crc32c_generic
}

# called by dracut
install() {
    # busybox only for `ip` (lo up, the dummy interface): the image has no iproute2
    inst /bin/busybox /usr/lib/nvmet-test/busybox
    inst_script "$moddir/nvmet-test-setup.sh" /sbin/nvmet-test-setup
    # pre-trigger: udevd runs (module loading works), no initqueue job has
    # run yet, so the target is up before 50stacd's first attempt unless
    # nvmet_test.delay= asks otherwise
    inst_hook pre-trigger 10 "$moddir/nvmet-test-hook.sh"
    # the host identity files, when the build put them into the sysroot
    # (ci/boot/run does for dracut's own nvmf module, which writes
    # rd.nvmf.hostnqn= into /etc/nvme/hostnqn but installs the files only
    # in host-only images)
    inst_multiple -o /etc/nvme/hostnqn /etc/nvme/hostid
    # with systemd-networkd: the blackhole interface is a managed link
    # (nvmet-test.network says why)
    if dracut_module_included systemd-networkd; then
        inst_simple "$moddir/nvmet-test.network" /etc/systemd/network/10-nvmet-test.network
    fi
    # with systemd: show what the journal has of 50stacd's emergency report
    inst_multiple -o journalctl
    inst_hook emergency 90 "$moddir/nvmet-test-journal.sh"
    inst_hook shutdown-emergency 90 "$moddir/nvmet-test-journal.sh"
}
