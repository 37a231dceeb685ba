#!/bin/sh
# Fault e) The target is down for longer than ctrl-loss-tmo (2 s, with
# reconnect-delay 1 s): the kernel gives up and deletes the controller;
# stacd sees the removal, retries (fast retry 3 s, refused while the port
# is down) and connects again once the port is back.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

conf_write 4420 "$SUB1"
printf '[Global]\nctrl-loss-tmo = 2\nreconnect-delay = 1\n' >>"$STACD_CONF"
stacd_start
check "controller live" wait_live 1 10 "$STACD_T0"
c=$(ctrl_find 4420 "$SUB1")
read -r tmo <"/sys/class/nvme/$c/ctrl_loss_tmo"
check "kernel ctrl_loss_tmo of $c is 2 ($tmo)" [ "$tmo" = 2 ]

echo "== port 4420 down"
now_ns
t_down=$NOW
port_down 4420
check "the kernel deletes $c (ctrl-loss-tmo) within 15 s" wait_gone 4420 "$SUB1" 15
ms_since "$t_down"
t_del=$MS
echo "TIMING: port down -> controller deleted by the kernel: $t_del ms"
check "log: '$(stacd_id 4420 "$SUB1") | $c - Received \"remove\" event'" \
	wait_log "$(stacd_id 4420 "$SUB1") | $c - Received \"remove\" event" 1 2
check "stacd retried while the port was down (refused)" \
	wait_log "$(stacd_id 4420 "$SUB1") Failed to connect to controller." 1 8

echo "== port 4420 back"
now_ns
t_up=$NOW
port_up 4420
check "live again within 8 s of the port's return" wait_ctrl_live 4420 "$SUB1" 8
ms_since "$t_up"
t_back=$MS
echo "TIMING: port back -> live: $t_back ms"
check "exactly 1 controller" [ "$(ctrl_count)" = 1 ]
check "stacd is still running" stacd_running
figure "e) target down > ctrl-loss-tmo (2 s)" \
	"kernel deleted it after $t_del ms; stacd connected again $t_back ms after the port came back"
stacd_stop
summary
