#!/bin/sh
# fault i) A silent address (10.99.0.2:4420, routed to a dummy interface
# that drops every packet) first in stacd.conf, before three live ones. The
# kernel connects one controller at a time (nvmf_dev_write holds
# nvmf_dev_mutex around nvmf_create_ctrl, drivers/nvme/host/fabrics.c) and
# holds it ~3 s for a silent address (TCP_SYNCNT 1, drivers/nvme/host/tcp.c):
# the control below shows bare writes queued behind it. stacd probes TCP
# targets before their connect when several start together
# (src/kernel/probe.rs), so the live ones go first; the silent one is still
# written to the kernel, which fails it, and it is retried.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

SILENT=10.99.0.2
if ! { ip link add bh0 type dummy && ip addr add 10.99.0.1/24 dev bh0 && ip link set bh0 up; }; then
	check "a dummy interface for the silent address (vm-run -M dummy)" false
	summary
	exit
fi
silent_id="(tcp, $SILENT, 4420, $SUB1)"

# Control: bare writes, the silent one first (in the background), then the
# three live ones one after another: they wait for the kernel's timeout.
now_ns
t0=$NOW
nvmf_connect "nqn=$SUB1,transport=tcp,traddr=$SILENT,trsvcid=4420,hostnqn=$HOSTNQN,hostid=$HOSTID" &
bg=$!
usleep 100000
for p in "4420 $SUB1" "8009 $SUB1" "4420 $SUB2"; do
	# shellcheck disable=SC2086 # a port and an NQN
	set -- $p
	nvmf_connect "nqn=$2,transport=tcp,traddr=$ADDR,trsvcid=$1,hostnqn=$HOSTNQN,hostid=$HOSTID"
done
ms_since "$t0"
t_bare=$MS
wait "$bg"
echo "TIMING: control, bare writes with the silent address first: 3 live after $t_bare ms"
check "control: the silent address holds up bare writes (>= 2500 ms: $t_bare ms)" [ "$t_bare" -ge 2500 ]
delete_all_ctrls

mkdir -p "${STACD_CONF%/*}"
{
	echo "[Controllers]"
	echo "controller = transport=tcp;traddr=$SILENT;trsvcid=4420;nqn=$SUB1"
	echo "controller = transport=tcp;traddr=$ADDR;trsvcid=4420;nqn=$SUB1"
	echo "controller = transport=tcp;traddr=$ADDR;trsvcid=8009;nqn=$SUB1"
	echo "controller = transport=tcp;traddr=$ADDR;trsvcid=4420;nqn=$SUB2"
} >"$STACD_CONF"

# The daemon.
stacd_start
check "daemon: the 3 live ones are up" wait_live 3 10 "$STACD_T0"
t_daemon=$LIVE_MS
check "daemon: not held up by the silent address (< 2000 ms: $t_daemon ms)" [ "$t_daemon" -lt 2000 ]
check "daemon: the probe's silence is logged" wait_log "$silent_id no answer to a TCP probe" 1 5
check "daemon: the silent address is still tried, and fails" \
	wait_log "$silent_id Failed to connect to controller" 1 10
stacd_show_log
stacd_stop >/dev/null
delete_all_ctrls
rm -rf "$STACD_RUNDIR"

# --once, the boot scripts' mode.
now_ns
t0=$NOW
"$STACD" --once --timeout 6 >/tmp/once.out 2>/tmp/once.err &
pid=$!
STACD_PID=$pid # wait_live gives up if it is gone
check "--once: the 3 live ones are up" wait_live 3 10 "$t0"
t_once=$LIVE_MS
check "--once: not held up by the silent address (< 2000 ms: $t_once ms)" [ "$t_once" -lt 2000 ]
wait "$pid"
rc=$?
sed 's/^/    out: /' /tmp/once.out
check "--once: exit 3, some missing" [ "$rc" = 3 ]
check "--once: three live lines" [ "$(grep -c '^live nvme' /tmp/once.out)" = 3 ]
check "--once: the silent one failed" grep -q "^failed - $silent_id" /tmp/once.out
figure "i) silent address first, 3 live" \
	"live after $t_daemon ms (daemon), $t_once ms (--once); bare writes queued behind it: $t_bare ms"
ip link del bh0
summary
