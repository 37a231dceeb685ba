#!/bin/sh
# 50stacd emergency and shutdown-emergency hook (sourced by dracut's init,
# or with systemd in the image by dracut-initqueue and dracut-emergency,
# before the emergency shell): say which NVMe-oF boot target failed, and
# why, on the console. dracut may source the hooks more than once on the
# way down (the failure, then its exit trap; emergency and
# shutdown-emergency): one report is enough.
# With systemd, standard output is no place for it: dracut-initqueue's
# goes to the journal only (dracut-initqueue.service sets StandardError
# only), dracut-emergency's to the console only (StandardOutput=inherit).
# So each line goes to the kernel log, which journald reads, and to the
# console: by the kernel itself when its console level shows warnings
# (no "quiet"; /proc/sys/kernel/printk, first field, see syslog(2)),
# else written there here.
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
        _stacd_cl=4
        read -r _stacd_cl _stacd_l < /proc/sys/kernel/printk
        _stacd_report 2>&1 | while IFS= read -r _stacd_l; do
            [ "$_stacd_cl" -gt 4 ] || echo "$_stacd_l" > /dev/console
            # <28>: daemon.warning
            [ -z "$_stacd_l" ] || echo "<28>$_stacd_l" > /dev/kmsg
        done
    else
        _stacd_report
    fi
    unset _stacd_l _stacd_cl
fi
