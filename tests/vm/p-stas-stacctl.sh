#!/bin/sh
# p) nvme-stas's real stacctl (Debian 13, 2.4.1; Python, dasbus) against
# nvme-stas's Python stacd and against ours, in turn, with the same
# stacd.conf, the same real stafd and the same kernel: `ls`, `ls -d`,
# `status`, `tron`, `troff` as root, and as the unprivileged user stasuser
# (reads work; writes are refused with the original's message, no
# traceback). Then a side-by-side table of every value both print: the
# same keys, and the same values except the differences docs/dbus.md lists.
# case-timeout: 300
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh
# shellcheck source=../../ci/vm/guest/stas-lib.sh
. /lib/stas-lib.sh

check "the Debian 13 userland is mounted, its bus and udevd run" stas_up || { summary; exit 1; }
echo "versions: $(stas_versions)"
stafd_conf
# One controller of our own (with a per-controller override), and the two
# stafd publishes.
printf '[Controllers]\ncontroller = transport=tcp;traddr=%s;trsvcid=4420;nqn=%s;kato=30\n' \
	"$ADDR" "$SUB1" >"$STAS/etc/stas/stacd.conf"
stafd_real_start
check "stafd publishes 2 I/O controllers" wait_stafd_iocs 2 90
WANT="$IOCS
$SUB1 $ADDR 4420"
SBS=/tmp/sbs

no_traceback() { ! grep -q Traceback /tmp/stacctl.err; }
# rc_is N: the last stacctl exited N and printed no traceback
rc_is() { [ "$CTL_RC" = "$1" ] && no_traceback; }
tron_shown() { grep -q "'log-level': 'DEBUG'" /tmp/stacctl.out && grep -q "'tron': True" /tmp/stacctl.out; }
out_is() { [ "$(cat /tmp/stacctl.out)" = "$1" ]; }
# ctl_round WHO DIR: the stacctl commands against the stacd now running
# (WHO: "nvme-stas's stacd" or "our stacd"); their output kept in DIR
ctl_round() {
	mkdir -p "$2"
	for v in ls ls-d status; do
		case $v in ls-d) a="ls -d" ;; *) a=$v ;; esac
		# shellcheck disable=SC2086 # a word list on purpose
		stacctl $a
		check "$1, root: stacctl $a exits 0, no traceback" rc_is 0
		cp /tmp/stacctl.out "$2/$v"
	done
	check "$1: stacctl ls lists the 3 controllers" [ "$(grep -c "'device': 'nvme" "$2/ls")" = 3 ]
	stacctl_user ls
	check "$1, stasuser: stacctl ls works" rc_is 0
	check "$1, stasuser: the same list as root's" cmp -s /tmp/stacctl.out "$2/ls"
	stacctl_user status
	check "$1, stasuser: stacctl status works" rc_is 0
	stacctl_user tron
	check "$1, stasuser: stacctl tron is refused (exit 1), no traceback" rc_is 1
	cp /tmp/stacctl.err "$2/user-tron.err"
	cat /tmp/stacctl.err
	stacctl tron
	check "$1, root: stacctl tron prints 'tron = True'" out_is "tron = True"
	stacctl status
	check "$1, root: status shows tron on, log level DEBUG" tron_shown
	stacctl troff
	check "$1, root: stacctl troff prints 'tron = False'" out_is "tron = False"
}

# The original.
pystacd_start
check "nvme-stas's stacd is on the bus" wait_bus org.nvmexpress.stac 90
check "nvme-stas's stacd connects the 3 controllers" wait_iocs "$WANT" 60
usleep 2000000
ctl_round "nvme-stas's stacd" "$SBS/original"
snap=$(ioc_snapshot)
stop_pid "$PYSTACD_PID" 20
check "nvme-stas's stacd stopped: its controllers stay" same_snapshot "$snap" "$(ioc_snapshot)"
rm -rf /run/stacd/*

# Ours, on the same files, adopting what the original connected.
rs_start
check "our stacd is on the bus" wait_bus org.nvmexpress.stac 20
check "our stacd adopts the 3 controllers" wait_log "(adopted)" 3 30
check "nothing reconnected" same_snapshot "$snap" "$(ioc_snapshot)"
ctl_round "our stacd" "$SBS/ours"
check "stasuser's refused tron: the original's message, word for word" \
	cmp "$SBS/original/user-tron.err" "$SBS/ours/user-tron.err"
echo
echo "=== side by side: nvme-stas's stacctl against nvme-stas's stacd 2.4.1 and ours"
in_stas python3 /usr/local/bin/stas-tool.py sidebyside "$SBS/original" "$SBS/ours" >/tmp/sbs.table
rc=$?
cat /tmp/sbs.table
check "side by side: the same keys and values, except the documented differences" [ "$rc" = 0 ]
figure "stacctl side by side (values)" "$(tail -n 1 /tmp/sbs.table)"
stacd_stop
summary
