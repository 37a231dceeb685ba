#!/bin/sh
# demo-guest.sh - the guest half of ci/demo: stacd against the kernel's own
# NVMe-oF target (nvmet on 127.0.0.1) in the test bed VM. Exits non-zero if a
# stacd command did not give the status the demo expects.
# shellcheck source=vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

bad=0
heading() {
	echo
	echo "################################################################"
	echo "## $*"
	echo "################################################################"
}
# run EXPECTED COMMAND...: show and run COMMAND: its stdout, then its log
# (stderr), exit status and time
run() {
	want=$1
	shift
	echo "\$ $*"
	now_ns
	t0=$NOW
	"$@" 2>/tmp/demo.err
	rc=$?
	ms_since "$t0"
	if [ -s /tmp/demo.err ]; then
		echo "  its log (stderr):"
		sed 's/^/    /' /tmp/demo.err
	fi
	echo "(exit status $rc, $MS ms)"
	[ "$rc" = "$want" ] || { echo "!! expected exit status $want"; bad=1; }
}
kernel_view() {
	echo "\$ ls /sys/class/nvme"
	ls /sys/class/nvme
	for c in /sys/class/nvme/nvme*; do
		[ -e "$c" ] || continue
		printf '  %-6s %-5s cntlid=%-3s %-36s %s\n' "${c##*/}" "$(cat "$c/state")" \
			"$(cat "$c/cntlid")" "$(cat "$c/subsysnqn")" "$(cat "$c/address")"
	done
}

heading "The test bed: the kernel's NVMe-oF target on 127.0.0.1"
echo "kernel $(uname -r); subsystems: $SUB1, $SUB2"
echo "listening on tcp 127.0.0.1:4420 and 127.0.0.1:8009; nothing on :$DEAD_PORT"
echo "host NQN (/etc/nvme/hostnqn): $(cat /etc/nvme/hostnqn)"
echo "stacd: $(wc -c <"$STACD") bytes, a static binary copied into the guest"

heading "1. The configuration: $STACD_CONF (nvme-stas syntax)"
mkdir -p "${STACD_CONF%/*}"
cat >"$STACD_CONF" <<EOF
[Controllers]
# sub1 through two ports, sub2 through one
controller = transport=tcp;traddr=$ADDR;trsvcid=4420;nqn=$SUB1
controller = transport=tcp;traddr=$ADDR;trsvcid=8009;nqn=$SUB1
controller = transport=tcp;traddr=$ADDR;trsvcid=4420;nqn=$SUB2
# a dead address: nothing listens on port $DEAD_PORT
controller = transport=tcp;traddr=$ADDR;trsvcid=$DEAD_PORT;nqn=$SUB1
EOF
cat "$STACD_CONF"

heading "2. stacd --dry-run: the plan; the kernel is not touched"
run 0 "$STACD" --dry-run

heading "3. stacd --once --timeout 10: connect everything in parallel, then report"
echo "(one line per controller; exit status 3 = some are missing, here the dead one)"
run 3 "$STACD" --once --timeout 10

heading "4. What the kernel and nvme-cli see"
echo "\$ nvme list-subsys"
nvme list-subsys
echo
kernel_view
echo
echo "\$ nvme list"
nvme list

heading "5. The daemon: it adopts what is already connected"
echo "(it runs for 5 s: long enough to retry the dead address once, ~3 s after its first failure)"
stacd_start
usleep 5000000
echo "\$ kill -TERM $STACD_PID"
stacd_stop TERM
[ "$STACD_RC" = 0 ] || { echo "!! expected exit status 0"; bad=1; }

heading "6. After SIGTERM: the connections stay up"
kernel_view
echo
[ "$bad" = 0 ] && echo "demo: every stacd command behaved as expected" ||
	echo "demo: some stacd command did not behave as expected (see '!!' above)"
exit "$bad"
