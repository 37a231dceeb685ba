#!/bin/sh
# m) D-Bus and stafd on the real kernel: stacd starts before the system bus
# (as in an initramfs) and attaches when dbus-daemon comes up; a stafd
# stand-in (examples/stafd-standin.rs) publishes the nvmet subsystems as
# discovery log page entries; stacd connects them for real and
# `stacctl ls --detailed` shows them live; an entry that disappears is
# disconnected; stafd killed and restarted drops nothing. ci/test puts
# dbus-daemon, the stand-in and our bus policy into the guest.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

STACCTL=/tmp/stacctl

# ctl_has TEXT ARGS...: stacctl ARGS prints TEXT
ctl_has() {
	t=$1
	shift
	"$STACCTL" "$@" >/tmp/stacctl.out 2>&1
	grep -qF "$t" /tmp/stacctl.out
}

check "dbus-daemon is in the guest" command -v dbus-daemon
check "the stafd stand-in is in the guest" command -v stafd-standin
check "our bus policy is in the guest" [ -f "$DBUS_POLICY" ]
ln -sf "$STACD" "$STACCTL"
stafd_pages 4420 "$SUB1" 0 4420 "$SUB2" 0
conf_write
rm -f /run/dbus/system_bus_socket

stacd_start
check "no bus at start is not an error" wait_log "no D-Bus system bus yet" 1 10
check "stacd runs without the bus" stacd_running
system_bus_start
check "the bus is up" wait_for /run/dbus/system_bus_socket 10
stafd_start
check "stacd attaches when the bus appears" wait_log "on the D-Bus system bus" 1 15
check "stafd's two entries are connected" wait_live 2 20 "$STACD_T0"
ms_since "$STACD_T0"
echo "TIMING: stacd start -> stafd's 2 controllers live: $MS ms"
c1=$(ctrl_find 4420 "$SUB1")
c2=$(ctrl_find 4420 "$SUB2")
check "log: '$(stacd_id 4420 "$SUB1") | $c1 - Connection established!'" \
	log_has "$(stacd_id 4420 "$SUB1") | $c1 - Connection established!"
check "stacctl ls --detailed: both connected" ctl_has '"connected": "True"' ls --detailed
cat /tmp/stacctl.out
check "stacctl ls --detailed: $c1 listed" ctl_has "\"device\": \"$c1\"" ls --detailed
check "stacctl ls --detailed: $c2 listed" ctl_has "\"device\": \"$c2\"" ls --detailed
check "stacctl ls --detailed: the DLPE" ctl_has "'subtype': 'nvme'" ls --detailed
check "stacctl status: process info and controllers" ctl_has '"controllers": [' status
check "stacctl status: hostnqn" ctl_has "\"hostnqn\": \"$HOSTNQN\"" status
check "stacctl tron" ctl_has "tron = True" tron
check "stacctl troff" ctl_has "tron = False" troff

# An entry disappears: its controller is disconnected (only-stas-connections).
stafd_pages 4420 "$SUB1" 0
deadline 15
while [ "$(ctrl_count)" != 1 ] && ! timed_out; do usleep 100000; done
check "entry removed -> $c2 disconnected" [ "$(ctrl_count)" = 1 ]
check "log: '$(stacd_id 4420 "$SUB2") | $c2 - Disconnect initiated'" \
	log_has "$(stacd_id 4420 "$SUB2") | $c2 - Disconnect initiated"
check "$c1 still live" ctrl_live 4420 "$SUB1"

# stafd dies and comes back: nothing is dropped.
kill "$STAF_PID"
wait "$STAF_PID" 2>/dev/null
check "stacd notices stafd left" wait_log "stafd left the bus" 1 10
usleep 3000000
check "stafd gone 3 s: $c1 still live" ctrl_live 4420 "$SUB1"
stafd_start
check "stacd notices stafd is back" wait_log "stafd is on the bus" 2 10
usleep 3000000
check "stafd back: still exactly 1 controller" [ "$(ctrl_count)" = 1 ]
check "stafd back: $c1 still live, same device" [ "$(ctrl_find 4420 "$SUB1")" = "$c1" ]
check "stacctl ls: $c1" ctl_has "\"device\": \"$c1\"" ls
check "stacd is still running" stacd_running
stacd_stop
check "SIGTERM -> exit status 0" [ "$STACD_RC" = 0 ]
check "the connection stays after stacd exits" ctrl_live 4420 "$SUB1"
kill "$STAF_PID" "$BUS_PID" 2>/dev/null
echo "--- stafd stand-in log:"
cat /tmp/stafd.log
summary
