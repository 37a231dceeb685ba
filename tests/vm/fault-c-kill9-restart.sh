#!/bin/sh
# Fault c) stacd killed with SIGKILL while 8 controllers are live, then
# started again: it adopts all 8 (same device, same cntlid) with 0 connects
# and 0 disconnects — the kernel reports no controller added or removed.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

check "nvmet: 2 more ports, 8 controllers configured" eight_ctrls
stacd_start
check "8 controllers live" wait_live 8 15 "$STACD_T0"
wait_log "Connection established!" 8 5
usleep 300000 # the state file is written after the connects are handled
before=$(ctrl_snapshot)
uevents_start
stacd_stop KILL
check "SIGKILL -> stacd gone" [ "$STACD_RC" = 137 ]
stacd_start
check "second run: 8 adoptions logged within 10 s" wait_log "Connection established! (adopted)" 8 10
t_adopt=$(log_ms "(adopted)" 8)
usleep 2000000 # a late connect or disconnect would show by now
after=$(ctrl_snapshot)
uevents_stop
check "same 8 controllers (name cntlid nqn address)" same_snapshot "$before" "$after"
check "kernel: no controller added (uevents)" [ "$(uevent_count add)" = 0 ]
check "kernel: no controller removed (uevents)" [ "$(uevent_count remove)" = 0 ]
n_conn=$(($(log_count "Connection established!") - $(log_count "(adopted)")))
n_disc=$(log_count "Disconnect initiated")
check "0 connects, 0 disconnects in the second run" [ "$n_conn $n_disc" = "0 0" ]
check "second run: still running" stacd_running
figure "c) kill -9 with 8 live, restart" \
	"8 adopted ${t_adopt:-?} ms after the start; $n_conn connects, $n_disc disconnects, same cntlids"
stacd_stop
summary
