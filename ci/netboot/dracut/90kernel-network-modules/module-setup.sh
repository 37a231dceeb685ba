#!/bin/bash
# TEST ONLY: stands in for dracut's kernel-network-modules in the two-VM
# boot tests' images (ci/netboot/run), which are built --no-hostonly: the
# real module then copies every network driver of the kernel (about 60 MB
# of a 77 MB image, seconds of unpacking per boot under TCG). A host-only
# image gets only the host's NIC drivers from the real module; the test
# VMs have virtio-net NICs.
# shellcheck disable=SC2154 # dracut's variables

check() {
    return 0
}

depends() {
    return 0
}

installkernel() {
    hostonly='' instmods virtio_net virtio_pci 8021q af_packet
}
