#!/bin/sh
# 50stacd cmdline hook, priority 92 (sourced by dracut's init, before the
# network modules parse ip=/vlan= at 95-99, so what it writes to
# /etc/cmdline.d is seen by them). Glue: the binary decides
# (`stacd --boot-plan`: whether this boot has NVMe-oF targets, whether the
# network module must bring interfaces up, whether stacd configures the
# NBFT's interfaces itself), this hook acts on the answer and queues the
# connect step. It parses no kernel parameter itself.
# shellcheck disable=SC1091 # dracut's library, in the image only
type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh
: "${hookdir:=/lib/dracut/hooks}"

mkdir -p /run/stacd
STACD_ACTIVE=0 STACD_TARGETS=0 STACD_NEED_NET=0 STACD_WHY="stacd --boot-plan failed (see /run/stacd/boot.log)"
eval "$(/usr/sbin/stacd --boot-plan 2>> /run/stacd/boot.log)"
if [ "$STACD_ACTIVE" != 1 ]; then
    info "stacd: $STACD_WHY: not connecting NVMe-oF boot targets"
elif [ "$STACD_TARGETS" -gt 0 ]; then
    if [ "$STACD_NEED_NET" = 1 ]; then
        # the network modules bring the interfaces up; each one that
        # comes online runs our initqueue/online hook
        echo "rd.neednet=1" > /etc/cmdline.d/45-stacd.conf
    fi
    if [ "$STACD_NBFT_NET" = 1 ] && [ -n "$STACD_HFI_MACS" ] && [ -d /etc/systemd/network ]; then
        # systemd-networkd in the image (dracut-ng's 01systemd-networkd,
        # what Debian 13's dracut picks for `network`) manages every NIC
        # without an ip= of its own by its default network (DHCP on all,
        # zzzz-dracut-default.network) and then drops the addresses it did
        # not set: the NBFT's. The NBFT's NICs are stacd's; a network file
        # that sorts first (systemd.network(5): the first match wins)
        # keeps networkd off them and leaves the default to the others.
        printf '# 50stacd: stacd configures these interfaces from the NBFT\n[Match]\nMACAddress=%s\n\n[Link]\nUnmanaged=yes\n' \
            "$STACD_HFI_MACS" > /etc/systemd/network/10-stacd-nbft.network
    fi
    info "stacd: $STACD_TARGETS NVMe-oF boot target(s); $STACD_WHY"
    # The connect step: a settled job that stays queued (it removes
    # itself when done), and a last attempt with a report when dracut
    # starts running timeout jobs (2/3 of rd.retry).
    /sbin/initqueue --settled --unique --name stacd-connect /sbin/stacd-connect settled
    /sbin/initqueue --timeout --onetime --unique --name stacd-timeout /sbin/stacd-connect timeout
    # The loop may end only once an attempt has ended as rd.stacd.wait
    # asks (rootfs-block's own finished check waits for the root
    # device); with rd.stacd.wait=none, at once.
    echo '[ -e /run/stacd/boot.done ]' > "$hookdir/initqueue/finished/50-stacd.sh"
    [ "$(getarg rd.stacd.wait=)" != none ] || : > /run/stacd/boot.done
    # The first attempt starts now, in the background, rather than at the
    # first settled turn (after udev has settled, seconds later): stacd
    # waits for the NBFT's NICs by MAC and for links and addresses itself
    # (rtnetlink), and tries again when an interface gets one.
    /sbin/stacd-connect early
fi
unset STACD_ACTIVE STACD_TARGETS STACD_NEED_NET STACD_NBFT_NET STACD_HFI_MACS STACD_WHY
