#!/bin/sh
# o) nvme-stas's real stafd (Debian 13, 2.4.1) and our stacd, in the
# Debian 13 userland (ci/vm/stas-image, stas-lib.sh) on the test bed's
# kernel: stafd connects to the nvmet discovery controller 127.0.0.1:8009
# from its own stafd.conf and publishes the log page on the system bus;
# every I/O controller it publishes is connected by our stacd, started
# before stafd and after it; a subsystem added on the target (AEN to
# stafd's discovery controller) is connected; one removed is disconnected
# (disconnect-scope default) or kept (no-disconnect); stafd stopped,
# killed and restarted: nothing is dropped.
# case-timeout: 300
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh
# shellcheck source=../../ci/vm/guest/stas-lib.sh
. /lib/stas-lib.sh

SUB3=nqn.2024-01.io.testbed:sub3
check "the Debian 13 userland is mounted, its bus and udevd run" stas_up || { summary; exit 1; }
echo "versions: $(stas_versions)"
stafd_conf
# our stacd's debug line after each answer of stafd: "stafd lists N I/O controllers"
lists() { log_count "stafd lists"; }

# Our stacd first, stafd after it.
rs_start --tron
check "our stacd is on the bus (org.nvmexpress.stac)" wait_bus org.nvmexpress.stac 20
stafd_real_start
check "stafd is on the bus (org.nvmexpress.staf)" wait_bus org.nvmexpress.staf 60
check "stafd publishes the 2 I/O controllers of the discovery log page" wait_stafd_iocs 2 60
echo "stafd publishes:"
echo "$IOCS" | sed 's/^/    /'
check "stacd started before stafd: every I/O controller stafd publishes is connected" \
	wait_iocs "$IOCS" 40
check "log: $(stacd_id 8009 "$SUB1") | nvmeN - Connection established!" \
	log_has "$(stacd_id 8009 "$SUB1") | nvme"

# A subsystem added on the target: nvmet's AEN reaches stafd's discovery
# controller, stafd reads the page again and signals log_pages_changed.
check "nvmet: $SUB3 added on port 8009" nvmet_sub_add "$SUB3" 8009
check "stafd publishes it (AEN)" wait_stafd_iocs 3 60
check "the added subsystem is connected" wait_iocs "$IOCS" 40
grep -F 'AEN' "$STAFD_LOG" | sed 's/^/    stafd: /'

# Removed on the target: stafd drops it; the default disconnect-scope
# (only-stas-connections) disconnects it.
check "nvmet: $SUB3 taken off port 8009" nvmet_sub_unlink "$SUB3" 8009
deadline 60
while [ "$(stafd_iocs | grep -c .)" != 2 ] && ! timed_out; do usleep 500000; done
check "stafd no longer publishes it" [ "$(stafd_iocs | grep -c "$SUB3")" = 0 ]
check "only-stas-connections: its controller is disconnected" wait_gone 8009 "$SUB3" 40
check "log: Disconnect initiated" log_has "$(stacd_id 8009 "$SUB3") | nvme"

# disconnect-scope = no-disconnect: the same removal keeps the controller.
printf '[I/O controller connection management]\ndisconnect-scope=no-disconnect\n' \
	>"$STAS/etc/stas/stacd.conf"
kill -HUP "$STACD_PID"
check "log: reloading" wait_log "reloading" 1 10
n=$(lists)
check "nvmet: $SUB3 on port 8009 again" ln -s "/sys/kernel/config/nvmet/subsystems/$SUB3" \
	"$(nvmet_port 8009)/subsystems/$SUB3"
check "connected again" wait_ctrl_live 8009 "$SUB3" 60
n=$(lists)
nvmet_sub_unlink "$SUB3" 8009
check "stacd heard stafd's new page" wait_log "stafd lists" $((n + 1)) 60
usleep 2000000
check "no-disconnect: the controller stafd no longer lists is kept" [ -n "$(ctrl_find 8009 "$SUB3")" ]
for c in $(ctrl_find 8009 "$SUB3"); do nvmf_disconnect "$c"; done
wait_gone 8009 "$SUB3" 10
IOCS=$(stafd_iocs)

# stafd stopped (SIGTERM), then started again: nothing dropped.
check "2 I/O controllers live" wait_iocs "$IOCS" 20
snap=$(ioc_snapshot)
stop_pid "$STAFD_PID"
check "our stacd notices stafd left" wait_log "stafd left the bus" 1 15
usleep 3000000
check "stafd stopped 3 s: nothing dropped" same_snapshot "$snap" "$(ioc_snapshot)"
n=$(lists)
stafd_real_start
check "stafd restarted: on the bus" wait_bus org.nvmexpress.staf 60
check "our stacd reads stafd's pages again" wait_log "stafd lists" $((n + 1)) 60
check "stafd restarted: nothing dropped or reconnected" same_snapshot "$snap" "$(ioc_snapshot)"

# stafd killed (SIGKILL): nothing dropped.
kill -KILL "$STAFD_PID"
wait "$STAFD_PID" 2>/dev/null
usleep 3000000
check "stafd killed 3 s: nothing dropped" same_snapshot "$snap" "$(ioc_snapshot)"
n=$(lists)
stafd_real_start
check "stafd back: our stacd reads its pages" wait_log "stafd lists" $((n + 1)) 60
check "stafd killed and back: nothing dropped or reconnected" same_snapshot "$snap" "$(ioc_snapshot)"

# Our stacd restarted while stafd runs: it adopts everything.
stacd_stop
check "stacd stopped: the controllers stay" same_snapshot "$snap" "$(ioc_snapshot)"
rs_start --tron
check "restarted: stacd reads stafd's pages" wait_log "stafd lists 2 I/O controllers" 1 40
check "restarted: everything adopted, nothing reconnected" same_snapshot "$snap" "$(ioc_snapshot)"
check "log: (adopted)" log_has "Connection established! (adopted)"

# Our stacd started after stafd, with nothing connected.
stacd_stop
for c in $(ioc_snapshot | cut -d' ' -f1); do nvmf_disconnect "$c"; done
deadline 10
while [ -n "$(ioc_snapshot)" ] && ! timed_out; do usleep 100000; done
rs_start --tron
check "stacd started after stafd: every I/O controller stafd publishes is connected" \
	wait_iocs "$IOCS" 40
check "stafd: no Python traceback" sh -c "! grep -q Traceback $STAFD_LOG"
stacd_stop
echo "--- stafd log:"
sed 's/^/    /' "$STAFD_LOG"
summary
