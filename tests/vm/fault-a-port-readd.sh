#!/bin/sh
# Fault a) The target port is removed from nvmet configfs (every subsystem
# link of 127.0.0.1:4420 unlinked: nvmet drops the controllers and stops
# listening) and re-added 5 s later. The kernel keeps reconnecting the
# host controllers (state connecting, reconnect-delay 2 s here); stacd
# leaves them to it — no connect on top — and both are live again on the
# same devices, with no duplicate.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

conf_write 4420 "$SUB1" 4420 "$SUB2"
printf '[Global]\nreconnect-delay = 2\n' >>"$STACD_CONF"
stacd_start
check "2 controllers live" wait_live 2 10 "$STACD_T0"
wait_log "Connection established!" 2 5
c1=$(ctrl_find 4420 "$SUB1") c2=$(ctrl_find 4420 "$SUB2")
uevents_start

echo "== port 4420 removed"
check "port 4420: subsystems unlinked" port_down 4420
i=0
until [ "$(live_count)" = 0 ] || [ $i -ge 500 ]; do
	i=$((i + 1))
	usleep 10000
done
check "the host noticed: no controller live" [ "$(live_count)" = 0 ]
read -r s1 <"/sys/class/nvme/$c1/state"
echo "state of $c1 while the port is gone: $s1"
case $s1 in connecting | resetting) reco=1 ;; *) reco=0 ;; esac
check "the kernel is reconnecting $c1 (state $s1)" [ "$reco" = 1 ]
usleep 5000000

echo "== port 4420 back"
now_ns
t_up=$NOW
check "port 4420: subsystems linked again" port_up 4420
check "both live again within 10 s of the re-add" wait_live 2 10 "$t_up"
t_live=$LIVE_MS
usleep 1000000 # a late connect from stacd would show by now
uevents_stop
check "the same devices: $c1 $c2" [ "$(ctrl_find 4420 "$SUB1") $(ctrl_find 4420 "$SUB2")" = "$c1 $c2" ]
check "exactly 2 controllers" [ "$(ctrl_count)" = 2 ]
check "kernel: no controller added or removed (uevents)" \
	[ "$(uevent_count add) $(uevent_count remove)" = "0 0" ]
check "stacd connected nothing on top (2 connects in all)" [ "$(log_count "Connection established!")" = 2 ]
check "stacd is still running" stacd_running
figure "a) port removed, re-added 5 s later" \
	"live again $t_live ms after the re-add (kernel reconnect); $(($(log_count "Connection established!") - 2)) stacd connects, $(($(ctrl_count) - 2)) duplicates"
stacd_stop
summary
