#!/bin/sh
# l) The daemon follows a discovery controller ([Standalone]
# discovery-controller=, an appliance without stafd); a subsystem added to the
# nvmet port makes the target send a discovery log page change AEN
# (NVME_AEN=0x70f002); the daemon reads the page again and connects the new
# subsystem, without touching the others.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

cfg=/sys/kernel/config/nvmet
SUB3=${SUB1%:*}:sub3
port=
for p in "$cfg"/ports/*; do
	[ "$(cat "$p/addr_trsvcid")" = 8009 ] && port=$p
done
check "nvmet has a port at 8009" [ -n "$port" ]

mkdir -p /etc/stas
printf '[Standalone]\ndiscovery-controller = transport=tcp;traddr=%s;trsvcid=8009\n' "$ADDR" >"$STACD_CONF"
stacd_start --tron
# The discovery controller and the 2 I/O controllers its page lists (nvmet
# lists the subsystems of the port the discovery controller is on).
check "discovery controller and 2 I/O controllers live" wait_live 3 15 "$STACD_T0"
before=$(ctrl_snapshot)
check "the page was read once" [ "$(log_count 'discovery log page read')" = 1 ]

mkdir "$cfg/subsystems/$SUB3"
echo 1 >"$cfg/subsystems/$SUB3/attr_allow_any_host"
now_ns
t0=$NOW
ln -s "$cfg/subsystems/$SUB3" "$port/subsystems/$SUB3"
check "the change event is logged" wait_log "discovery log page changed; reading it again" 1 10
check "$SUB3 at $ADDR:8009 connected" wait_log "$(stacd_id 8009 "$SUB3") | " 1 10
ms_since "$t0"
echo "TIMING: subsystem added -> connected: $MS ms"
check "$SUB3 live" ctrl_live 8009 "$SUB3"
check "the others untouched" snapshot_keeps "$before" "$(ctrl_snapshot)"
check "4 controllers" [ "$(ctrl_count)" = 4 ]
stacd_stop
check "stop leaves them" [ "$(ctrl_count)" = 4 ]

# A restart finds the discovery controller it had connected (recorded in
# discovery.json in the run directory) and does not connect another; when the target
# is then removed from stacd.conf, SIGHUP deletes it as it would without the
# restart (before the record, the restarted daemon took it for someone
# else's and left it connected until the host rebooted).
dc_dev() {
	for _c in /sys/class/nvme/nvme*; do
		[ "$(cat "$_c/subsysnqn" 2>/dev/null)" = nqn.2014-08.org.nvmexpress.discovery ] && echo "${_c##*/}"
	done
}
dc=$(dc_dev)
check "one discovery controller, $dc" [ "$(echo "$dc" | wc -w)" = 1 ]
check "it is recorded as ours" grep -q "\"device\":\"$dc\"" "$STACD_RUNDIR/discovery.json"
stacd_start --tron
check "the page is read again after the restart" wait_log "discovery log page read" 1 15
check "the discovery controller is not connected again" [ "$(log_count 'discovery controller connected')" = 0 ]
check "still one discovery controller, $dc" [ "$(dc_dev)" = "$dc" ]
printf '[Global]\n' >"$STACD_CONF"
kill -HUP "$STACD_PID"
check "SIGHUP: $dc deleted" wait_log "$dc - no longer followed; disconnecting" 1 10
deadline 10
while [ -n "$(dc_dev)" ] && ! timed_out; do sleep 0.1; done
check "no discovery controller left" [ -z "$(dc_dev)" ]
check "the record is empty" sh -c "! grep -q traddr $STACD_RUNDIR/discovery.json"
stacd_stop
# run-cases' reset deletes the controllers and sets nvmet up again.
summary
