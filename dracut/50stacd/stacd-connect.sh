#!/bin/sh
# stacd-connect MODE [IFACE] - 50stacd's connect step (/sbin/stacd-connect).
#   early     from the cmdline hook: the first attempt, before udev
#   settled   from the initqueue's settled queue, every loop turn until done
#   online    from the initqueue/online hook when IFACE came up
#   timeout   when dracut starts its timeout jobs: a last attempt, waited
#             for, then a report on the console
#   report    print what the last attempt found (emergency shell)
#   wait      wait until no attempt is running (pre-pivot)
#   collect   look at the result of an attempt that ended (internal)
#
# An attempt is one `stacd --once --boot-net`: it reads rd.nvmf.*/rd.stacd.*
# and the NBFT itself, configures the NBFT's interfaces (found by MAC:
# VLAN, address, route, DHCP; the same work is not done twice), connects in
# parallel, holds paths whose interface has no link until it has one
# (rtnetlink), retries within its budget
# (rd.stacd.budget), stops as rd.stacd.wait says (root, the image's default:
# once a path is up plus rd.stacd.grace), writes /run/stacd/boot.json for
# the service on the real root, and exits 0 (all live), 3 (some), 4 (none)
# or 1/2 (cannot run). It runs in the background, so that dracut's loop
# keeps turning (udev, the network modules' jobs, the rd.retry clock, which
# counts turns) while connects wait on the network; this script only starts
# it and looks at its result. Files in /run/stacd:
#   boot.pid     an attempt was started (pid of its shell)
#   boot.rc      ... and has ended with this status
#   boot.report  the last ended attempt's per-controller lines
#   boot.log     stacd's messages (also in the kernel log)
#   boot.done    the boot may go on (initqueue/finished/50-stacd.sh)
# shellcheck disable=SC1091 # dracut's library, in the image only
type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh
: "${hookdir:=/lib/dracut/hooks}"

mode=${1:-settled}
iface=${2:-}
run=/run/stacd
done_file=$run/boot.done
report=$run/boot.report
job=$hookdir/initqueue/settled/stacd-connect.sh
mkdir -p "$run"

uptime_s() {
    read -r _up _ < /proc/uptime
    echo "${_up%.*}"
}

running() {
    [ -f "$run/boot.pid" ] && [ ! -f "$run/boot.rc" ]
}

# start: begin an attempt in the background
start() {
    [ -c /dev/nvme-fabrics ] || modprobe -a -b -q nvme_fabrics nvme_tcp
    _runs=0
    [ -f "$run/boot.runs" ] && read -r _runs < "$run/boot.runs"
    _runs=$((_runs + 1))
    echo "$_runs" > "$run/boot.runs"
    uptime_s > "$run/boot.started"
    info "stacd: connect attempt $_runs ($mode${iface:+ $iface})"
    # with systemd in the image dracut's info goes to the journal only: the
    # kernel log keeps the attempt's start, as it keeps its end (below)
    [ ! -d /run/systemd/system ] ||
        echo "<30>dracut: stacd: connect attempt $_runs ($mode${iface:+ $iface})" > /dev/kmsg
    (
        /usr/sbin/stacd --once --boot-net --syslog > "$report.new" 2>> "$run/boot.log" < /dev/null
        _rc=$?
        # for the kernel log's timeline, before anything slower
        echo "<30>dracut: stacd: connect attempt $_runs ended with status $_rc" > /dev/kmsg
        echo "$_rc" > "$run/boot.rc.new"
        # stacd prints its per-controller lines when the attempt ends; one
        # ended by a signal (dracut's emergency path ends its jobs) prints
        # none: keep the last attempt's lines, the ones that name the error
        if [ -s "$report.new" ]; then
            mv -f "$report.new" "$report"
        else
            rm -f "$report.new"
        fi
        mv -f "$run/boot.rc.new" "$run/boot.rc"
        # at once, rather than at the settled job's next turn: the loop
        # checks boot.done after every job and every turn
        "$0" collect
    ) &
    echo $! > "$run/boot.pid"
}

# root_missing: root= names a block device that does not exist (yet)
root_missing() {
    _root=$(getarg root=)
    case $_root in
        LABEL=* | UUID=* | PARTUUID=* | PARTLABEL=* | /dev/*)
            [ ! -b "$(label_uuid_to_dev "$_root")" ]
            return
            ;;
    esac
    return 1
}

show_report() {
    if [ -s "$report" ]; then
        while IFS= read -r _l; do
            echo "stacd: $_l"
        done < "$report"
    else
        echo "stacd: no connect attempt has ended yet"
    fi
    running && echo "stacd: an attempt is still running (since $(cat "$run/boot.started") s)"
}

# collect: look at an ended attempt; create boot.done when the boot may go on
collect() {
    # the attempt's own shell and the settled job may both get here: the
    # rename decides which one handles the result
    mv "$run/boot.rc" "$run/boot.rc.$$" 2> /dev/null || return 0
    read -r _rc < "$run/boot.rc.$$"
    rm -f "$run/boot.rc.$$" "$run/boot.pid"
    case $_rc in
        0)
            info "stacd: every boot path is live"
            : > "$done_file"
            ;;
        3)
            # Some paths are missing; stacd --once already waited as
            # rd.stacd.wait asked, and the service on the real root
            # retries the rest (boot.json). Go on, unless root's device is
            # still missing: then the path that came up was not root's.
            if root_missing; then
                info "stacd: some boot paths are up, not the root device; trying again"
            else
                info "stacd: some boot paths are missing; the stacd service will retry them"
                : > "$done_file"
            fi
            ;;
        4) info "stacd: no boot path is live yet" ;;
        *) warn "stacd: stacd --once failed with status $_rc (see $run/boot.log)" ;;
    esac
    [ "$_rc" = 0 ] || show_report | vinfo
}

case $mode in
    report)
        show_report
        exit 0
        ;;
    collect)
        collect
        exit 0
        ;;
    wait)
        # at most a minute: an attempt ends within its budget
        _i=0
        while running && [ $_i -lt 600 ]; do
            sleep 0.1
            _i=$((_i + 1))
        done
        collect
        running && exit 1
        exit 0
        ;;
    early | settled | online | timeout) ;;
    *)
        warn "stacd-connect: unknown mode $mode"
        exit 2
        ;;
esac

collect
if [ -e "$done_file" ]; then
    rm -f "$job"
    exit 0
fi
if [ "$mode" = timeout ]; then
    # the last chance before the emergency shell: one attempt, waited for
    running || start
    "$0" wait
    if [ ! -e "$done_file" ]; then
        warn "stacd: the NVMe-oF boot paths are not up:"
        show_report | vwarn
    fi
    exit 0
fi
running && exit 0
# one start per 3 s at most, whatever calls us
if [ -f "$run/boot.started" ]; then
    read -r _t < "$run/boot.started"
    [ "$(uptime_s)" -ge $((_t + 3)) ] || exit 0
fi
start
exit 0
