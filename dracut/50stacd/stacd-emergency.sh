#!/bin/sh
# 50stacd emergency hook (sourced by dracut's init before the emergency
# shell): say which NVMe-oF boot target failed, and why, on the console.
# dracut may source the emergency hooks more than once on the way down
# (the failure, then its exit trap): one report is enough.
if [ -d /run/stacd ] && [ ! -e /run/stacd/boot.reported ]; then
    : > /run/stacd/boot.reported
    echo
    echo "stacd: NVMe-oF boot report:"
    /sbin/stacd-connect report
    for _stacd_c in /sys/class/nvme/nvme*; do
        [ -f "$_stacd_c/transport" ] || continue
        read -r _stacd_s < "$_stacd_c/state"
        read -r _stacd_n < "$_stacd_c/subsysnqn"
        read -r _stacd_a < "$_stacd_c/address"
        echo "stacd: kernel: ${_stacd_c##*/} $_stacd_s $_stacd_n $_stacd_a"
    done
    echo "stacd: details: /run/stacd/boot.log, /run/stacd/boot.json"
    unset _stacd_c _stacd_s _stacd_n _stacd_a
fi
