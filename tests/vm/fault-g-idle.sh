#!/bin/sh
# Fault g) 60 s idle with 8 live controllers: stacd does not wake up once
# (no polling: the context switches of all its threads do not change), it
# runs one thread, and its resident memory is printed.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

check "nvmet: 2 more ports, 8 controllers configured" eight_ctrls
stacd_start
check "8 controllers live" wait_live 8 15 "$STACD_T0"
wait_log "Connection established!" 8 5
usleep 1000000 # let the last events and the state file settle
cs0=$(ctx_switches "$STACD_PID")
threads=$(proc_status "$STACD_PID" Threads)
sleep 60
cs1=$(ctx_switches "$STACD_PID")
rss=$(proc_status "$STACD_PID" VmRSS)
echo "context switches: $cs0 before, $cs1 after 60 s; threads $threads; VmRSS $rss kB"
check "0 wake-ups in 60 s ($cs0 -> $cs1 context switches)" [ "$cs0" = "$cs1" ]
check "one thread when idle ($threads)" [ "$threads" = 1 ]
check "8 controllers still live" [ "$(live_count)" = 8 ]
check "stacd is still running" stacd_running
figure "g) idle 60 s with 8 live" "$((cs1 - cs0)) wake-ups (context switches); RSS $rss kB; $threads thread"
stacd_stop
summary
