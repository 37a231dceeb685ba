#!/bin/sh
# 50stacd cmdline hook, priority 92 (sourced by dracut's init, before the
# network modules parse ip=/vlan= at 95-99, so what it writes to
# /etc/cmdline.d is seen by them). Decides whether stacd has work at this
# boot, whether that needs the network, and queues the connect step. The
# binary parses rd.nvmf.*/rd.stacd.* itself; this hook only looks at the
# address fields, to decide about the network.
# shellcheck disable=SC1091 # dracut's library, in the image only
type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh
: "${hookdir:=/lib/dracut/hooks}"

# _stacd_needs_net TRTYPE TRADDR: a connect to TRADDR over TRTYPE needs a
# configured network interface (fc does not; neither does loopback)
_stacd_needs_net() {
    case $1 in
        fc | FC) return 1 ;;
    esac
    case $2 in
        127.* | ::1 | \[::1\] | localhost) return 1 ;;
    esac
    return 0
}

# _stacd_scan: set _stacd_targets (how many) and _stacd_net (1 if some
# target needs the network) from the command line, the NBFT and the image
_stacd_scan() {
    _stacd_targets=0 _stacd_net=0
    # rd.nvmf.connect=TRTYPE,TRADDR,...  rd.nvmf.discover=TRTYPE,TRADDR,...
    for _stacd_a in $(getargs rd.nvmf.connect=) $(getargs rd.nvmf.discover= -d nvmf.discover=); do
        _stacd_targets=$((_stacd_targets + 1))
        _stacd_t=${_stacd_a%%,*}
        _stacd_r=${_stacd_a#*,}
        _stacd_r=${_stacd_r%%,*}
        _stacd_needs_net "$_stacd_t" "$_stacd_r" && _stacd_net=1
    done
    # rd.stacd.controller=transport=tcp;traddr=...  (";" or "," between pairs)
    for _stacd_a in $(getargs rd.stacd.controller=); do
        _stacd_targets=$((_stacd_targets + 1))
        _stacd_t=tcp _stacd_r=''
        for _stacd_kv in $(echo "$_stacd_a" | tr ';,' '  '); do
            case $_stacd_kv in
                transport=*) _stacd_t=${_stacd_kv#transport=} ;;
                traddr=*) _stacd_r=${_stacd_kv#traddr=} ;;
            esac
        done
        _stacd_needs_net "$_stacd_t" "$_stacd_r" && _stacd_net=1
    done
    # An NBFT names targets and the interfaces that reach them.
    if ! getargbool 0 rd.nvmf.nonbft; then
        for _stacd_a in /sys/firmware/acpi/tables/NBFT*; do
            [ -e "$_stacd_a" ] || continue
            _stacd_targets=$((_stacd_targets + 1))
            _stacd_net=1
        done
    fi
    # A stacd.conf copied into the image (stacd_config=yes): assume network.
    if [ -f /etc/stas/stacd.conf ] && grep -q '^[[:space:]]*controller[[:space:]]*=' /etc/stas/stacd.conf; then
        _stacd_targets=$((_stacd_targets + 1))
        _stacd_net=1
    fi
    unset _stacd_a _stacd_t _stacd_r _stacd_kv
}

if getargbool 0 rd.nonvmf; then
    info "stacd: rd.nonvmf: not connecting NVMe-oF boot targets"
elif ! getargbool 1 rd.stacd; then
    info "stacd: rd.stacd=0: not connecting NVMe-oF boot targets"
else
    _stacd_scan
    if [ "$_stacd_targets" -gt 0 ]; then
        mkdir -p /run/stacd
        if [ "$_stacd_net" = 1 ]; then
            # the network modules bring the interfaces up; each one that
            # comes online runs our initqueue/online hook
            echo "rd.neednet=1" > /etc/cmdline.d/45-stacd.conf
        fi
        info "stacd: $_stacd_targets NVMe-oF boot source(s), network $([ "$_stacd_net" = 1 ] && echo needed || echo not needed)"
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
    fi
    unset _stacd_targets _stacd_net
fi
