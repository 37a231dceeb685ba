#!/bin/sh
# o) stacd --once with its controllers on the command line (--controller,
# --discover; stacd.conf's syntax, as `nvme connect` takes its target): only
# what is given is connected, not stacd.conf's controllers; the same report
# lines and exit codes as --once from stacd.conf (f-once-exit-codes.sh);
# a value stacd.conf would skip with a warning is an error here (exit 2).
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

# once ARGS...: stacd in the foreground; RC, stdout in /tmp/once.out, ERR
once() {
	"$STACD" "$@" >/tmp/once.out 2>/tmp/once.err
	RC=$?
	ERR=$(cat /tmp/once.err)
	echo "\$ stacd $* -> exit $RC; stdout:"
	sed 's/^/    /' /tmp/once.out
	echo "  stderr:"
	sed 's/^/    /' /tmp/once.err
}
ctl() { echo "transport=tcp;traddr=$ADDR;trsvcid=$1;nqn=$2"; }
has_line() { grep -qF "$1" /tmp/once.out; }
# found NQN: a controller for NQN on port 4420 or 8009 (nvmet's discovery
# log page lists the port it was asked on)
found() { [ -n "$(ctrl_find 4420 "$1")" ] || [ -n "$(ctrl_find 8009 "$1")" ]; }
reset_kernel() {
	delete_all_ctrls
	rm -rf "$STACD_RUNDIR"
}

# stacd.conf names SUB2: with --controller it must stay unconnected
conf_write 4420 "$SUB2"

echo "== --controller: one live -> 0, stacd.conf's controller not touched"
reset_kernel
once --once --timeout 10 --controller "$(ctl 4420 "$SUB1")"
check "exit 0" [ "$RC" = 0 ]
check "stdout: live ... $(stacd_id 4420 "$SUB1") connected" has_line "$(stacd_id 4420 "$SUB1") connected"
check "stdout: exactly 1 line" [ "$(wc -l </tmp/once.out)" = 1 ]
check "a controller for $SUB1" [ -n "$(ctrl_find 4420 "$SUB1")" ]
check "none for stacd.conf's $SUB2" [ -z "$(ctrl_find 4420 "$SUB2")" ]

echo "== --controller twice, one refused -> 3"
reset_kernel
once --once --timeout 4 --controller "$(ctl 4420 "$SUB1")" --controller "$(ctl "$DEAD_PORT" "$SUB1")"
check "exit 3" [ "$RC" = 3 ]
check "stdout: failed - $(stacd_id "$DEAD_PORT" "$SUB1") connection refused" \
	sh -c "grep -F 'failed - $(stacd_id "$DEAD_PORT" "$SUB1") ' /tmp/once.out | grep -qi 'connection refused'"

echo "== only refused -> 4"
reset_kernel
once --once --timeout 3 --controller "$(ctl "$DEAD_PORT" "$SUB2")"
check "exit 4" [ "$RC" = 4 ]
check "no controller" [ "$(ctrl_count)" = 0 ]

echo "== --discover: the discovery controller's log page, its subsystems connected"
reset_kernel
once --once --timeout 20 --discover "transport=tcp;traddr=$ADDR;trsvcid=8009"
check "exit 0" [ "$RC" = 0 ]
check "a controller for $SUB1 (discovered)" found "$SUB1"
check "a controller for $SUB2 (discovered)" found "$SUB2"
check "the discovery controller --once connected is gone" \
	sh -c '! grep -qx nqn.2014-08.org.nvmexpress.discovery /sys/class/nvme/nvme*/subsysnqn 2>/dev/null'

echo "== bad values -> 2, nothing connected"
reset_kernel
once --once --controller "transport=tcp;traddr=$ADDR;trsvcid=99999;nqn=$SUB1"
check "trsvcid=99999: exit 2" [ "$RC" = 2 ]
check "the error names --controller" sh -c "echo \"\$1\" | grep -q -- --controller" - "$ERR"
once --once --controller "transport=tcp;nqn=$SUB1"
check "no traddr: exit 2" [ "$RC" = 2 ]
once --controller "$(ctl 4420 "$SUB1")"
check "--controller without --once: exit 2" [ "$RC" = 2 ]
check "nothing connected" [ "$(ctrl_count)" = 0 ]
summary
