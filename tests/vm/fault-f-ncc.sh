#!/bin/sh
# f) NCC with connect-attempts-on-ncc=2 on an unreachable entry (docs/design.md
# §4.7): a discovery log page entry whose EFLAGS has NCC ("not connected to
# CDC", bit 2) is tried exactly twice and then left alone — no retry timer —
# while a reachable entry beside it connects; when NCC clears, a new series
# starts at once. The entries come from the stafd stand-in on D-Bus, as
# stafd would publish them.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

STACCTL=/tmp/stacctl
ln -sf "$STACD" "$STACCTL"
dead=$(stacd_id "$DEAD_PORT" "$SUB2")
failed="$dead Failed to connect to controller."

check "dbus-daemon and the stafd stand-in are in the guest" \
	sh -c 'command -v dbus-daemon && command -v stafd-standin' >/dev/null
mkdir -p "${STACD_CONF%/*}"
printf '[I/O controller connection management]\nconnect-attempts-on-ncc = 2\n' >"$STACD_CONF"
stafd_pages 4420 "$SUB1" 0 "$DEAD_PORT" "$SUB2" 4
rm -f /run/dbus/system_bus_socket
system_bus_start
check "the bus is up" wait_for /run/dbus/system_bus_socket 10
stafd_start
stacd_start --tron
check "the reachable entry is connected" wait_live 1 20 "$STACD_T0"
check "the NCC entry fails twice" wait_log "$failed" 2 15
# The second failure is the last: with NCC set and N = 2 there is no retry
# timer left (nvme-stas would retry after 60 s without the limit). Wait for
# the fast retry period once more to see that nothing else happens.
usleep 4000000
n=$(log_count "$failed")
figure "f) NCC, connect-attempts-on-ncc=2" "$n attempts on the unreachable NCC entry, then none"
check "exactly 2 attempts ($n)" [ "$n" = 2 ]
"$STACCTL" ls --detailed >/tmp/ncc.json 2>&1
check "stacctl: its retry timer is off" grep -qF '"retry connect timer": "60.0s [off]"' /tmp/ncc.json
check "stacctl: 2 connect attempts" grep -qF '"connect attempts": "2"' /tmp/ncc.json
check "no controller for the unreachable entry" [ -z "$(ctrl_find "$DEAD_PORT" "$SUB2")" ]
check "the reachable one is live" ctrl_live 4420 "$SUB1"

# NCC clears: the counter restarts and an attempt follows at once.
stafd_pages 4420 "$SUB1" 0 "$DEAD_PORT" "$SUB2" 0
check "NCC cleared: a new attempt" wait_log "$failed" 3 10
check "stacd is still running" stacd_running
stacd_stop
check "SIGTERM -> exit status 0" [ "$STACD_RC" = 0 ]
kill "$STAF_PID" "$BUS_PID" 2>/dev/null
summary
