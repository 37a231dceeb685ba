#!/bin/sh
# 50stacd pre-pivot hook, priority 90 (sourced by dracut's init just before
# switch_root): complete the hand-off. /run moves into the real root, so
# /run/stacd/boot.json (written by stacd --once) reaches the stacd service
# there, which adopts the controllers without a connect or a disconnect.
# Here: make sure no stacd is still writing to /dev/nvme-fabrics (docs/design.md §B2.6 rule 5:
# never switch root in the middle of a connect), and log which controllers
# carry the new root.
# shellcheck disable=SC1091 # dracut's library, in the image only
type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh

if [ -d /run/stacd ]; then
    # Normally nothing runs here (the loop ended after the attempt did),
    # unless rd.stacd.wait=none or root came from elsewhere.
    /sbin/stacd-connect wait || warn "stacd: a connect attempt is still running at switch_root"
    # The device under $NEWROOT and the controllers behind it: a
    # namespace's device/ is its controller, or with native multipath its
    # subsystem, which lists one nvmeN per path (drivers/nvme/host/multipath.c).
    _stacd_dev=''
    while read -r _stacd_src _stacd_mp _; do
        [ "$_stacd_mp" = "${NEWROOT:-/sysroot}" ] && _stacd_dev=$_stacd_src
    done < /proc/mounts
    _stacd_ctrls=''
    case $_stacd_dev in
        /dev/nvme*)
            _stacd_b=${_stacd_dev#/dev/}
            if [ -f "/sys/class/block/$_stacd_b/partition" ]; then
                # a partition's parent is the namespace
                _stacd_p=$(readlink -f "/sys/class/block/$_stacd_b")
                _stacd_p=${_stacd_p%/*}
                _stacd_b=${_stacd_p##*/}
            fi
            for _stacd_p in /sys/class/block/"$_stacd_b"/device /sys/class/block/"$_stacd_b"/device/nvme*; do
                [ -f "$_stacd_p/transport" ] || continue
                _stacd_p=$(readlink -f "$_stacd_p")
                _stacd_ctrls="$_stacd_ctrls ${_stacd_p##*/}"
            done
            ;;
    esac
    if [ -f /run/stacd/boot.json ]; then
        info "stacd: hand-off: /run/stacd/boot.json; root ${_stacd_dev:-?} on${_stacd_ctrls:- no NVMe-oF controller}"
    else
        warn "stacd: hand-off: no /run/stacd/boot.json (root ${_stacd_dev:-?})"
    fi
    echo "${_stacd_dev:-} ${_stacd_ctrls# }" > /run/stacd/boot.root
    unset _stacd_dev _stacd_src _stacd_mp _stacd_ctrls _stacd_b _stacd_p
fi
