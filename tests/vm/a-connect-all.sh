#!/bin/sh
# a) Three configured controllers on two subsystems (sub1 @4420, sub1 @8009,
# sub2 @4420): stacd connects all of them, the namespaces appear, and
# nvme-cli sees the same. Prints the ms from the daemon's start to all live.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

# target PORT NQN: the checks for one configured controller
target() {
	check "sysfs: one live controller for $ADDR:$1 $2" ctrl_live "$1" "$2"
	c=$(ctrl_find "$1" "$2")
	echo "$1 $2 -> $(ctrl_info "$1" "$2")"
	check "log: '$(stacd_id "$1" "$2") | $c - Connection established!'" \
		log_ends "stacd: $(stacd_id "$1" "$2") | $c - Connection established!"
	check "namespace device of $c appears: $(ns_devs "$c")" wait_ns "$c" 10
	check "nvme list-subsys: $2 has a live path to $ADDR:$1" subsys_has "$1" "$2"
}

conf_write 4420 "$SUB1" 8009 "$SUB1" 4420 "$SUB2"
check "no NVMe controller before stacd starts" [ "$(ctrl_count)" = 0 ]
stacd_start
check "3 controllers live within 10 s" wait_live 3 10 "$STACD_T0"
echo "TIMING: daemon start -> 3 controllers live: $LIVE_MS ms"
wait_log "Connection established!" 3 5
usleep 1000000 # a duplicate or late extra connect would show by now
check "exactly 3 controllers, 1 s after all were live" [ "$(ctrl_count)" = 3 ]
list_subsys
for pn in "4420 $SUB1" "8009 $SUB1" "4420 $SUB2"; do
	target "${pn%% *}" "${pn#* }"
done
check "nvme list-subsys: exactly 3 paths" [ "$(subsys_paths)" = 3 ]
# With native multipath, one head device per subsystem.
heads=$(find /dev -maxdepth 1 -name 'nvme[0-9]*n[0-9]*' ! -name '*c*' -type b | sort)
echo "namespace devices: $heads"
check "2 namespace block devices (one per subsystem)" [ "$(echo "$heads" | wc -w)" = 2 ]
check "stacd is still running" stacd_running
check "every log line is 'stacd: <message>'" log_format_ok
stacd_stop
summary
