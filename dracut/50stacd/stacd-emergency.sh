#!/bin/sh
# 50stacd emergency and shutdown-emergency hook (sourced by dracut's init,
# or with systemd in the image by dracut-emergency and dracut-initqueue,
# before the emergency shell): say which NVMe-oF boot target failed, and
# why, on the console. dracut may source the hooks more than once on the
# way down (the failure, then its exit trap; emergency and
# shutdown-emergency): one report is enough. With systemd, the console is
# not the journal (dracut-emergency.service has StandardOutput=inherit),
# so each line also goes to the kernel log, which journald reads.
_stacd_report() {
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
}
if [ -d /run/stacd ] && [ ! -e /run/stacd/boot.reported ]; then
    : > /run/stacd/boot.reported
    if [ -d /run/systemd/system ]; then
        _stacd_report | while IFS= read -r _stacd_l; do
            echo "$_stacd_l"
            [ -z "$_stacd_l" ] || echo "<28>$_stacd_l" > /dev/kmsg
        done
    else
        _stacd_report
    fi
    unset _stacd_l
fi
