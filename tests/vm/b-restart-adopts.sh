#!/bin/sh
# b) stacd stopped with SIGTERM and started again adopts the controllers it
# left up: no new connect, no disconnect (same instance names and cntlids,
# and the kernel reports no controller added or removed), the log says adopted.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

conf_write 4420 "$SUB1" 8009 "$SUB1" 4420 "$SUB2"
stacd_start
check "first run: 3 controllers live" wait_live 3 10 "$STACD_T0"
check "first run: 3 connects logged" wait_log "Connection established!" 3 5
before=$(ctrl_snapshot)
echo "before the restart:"
echo "$before" | sed 's/^/    /'
uevents_start
stacd_stop TERM
check "first run: SIGTERM -> exit status 0" [ "$STACD_RC" = 0 ]
stacd_start
check "second run: 3 adoptions logged within 10 s" wait_log "Connection established! (adopted)" 3 10
ms_since "$STACD_T0"
echo "TIMING: second start -> 3 adopted: $MS ms (last log line at $(log_ms "(adopted)" 3) ms)"
usleep 2000000 # a late connect or disconnect would show by now
after=$(ctrl_snapshot)
uevents_stop
check "same controllers (name cntlid nqn address) before and after" same_snapshot "$before" "$after"
for pn in "4420 $SUB1" "8009 $SUB1" "4420 $SUB2"; do
	p=${pn%% *} n=${pn#* }
	c=$(ctrl_find "$p" "$n")
	check "log: '$(stacd_id "$p" "$n") | $c - Connection established! (adopted)'" \
		log_ends "stacd: $(stacd_id "$p" "$n") | $c - Connection established! (adopted)"
done
check "log: no connect without (adopted)" [ "$(log_count 'Connection established!')" = "$(log_count 'Connection established! (adopted)')" ]
check "kernel: no controller added (uevents)" [ "$(uevent_count add)" = 0 ]
check "kernel: no controller removed (uevents)" [ "$(uevent_count remove)" = 0 ]
list_subsys
check "nvme list-subsys: 3 live paths" [ "$(grep -c '+- nvme.* live' /tmp/list-subsys)" = 3 ]
check "second run: still running" stacd_running
stacd_stop TERM
check "second run: SIGTERM -> exit status 0" [ "$STACD_RC" = 0 ]
summary
