# shellcheck shell=dash
# stacd-lib.sh - helpers for the stacd test cases in the guest, and the reset
# that run-cases does between cases. Load after testbed.sh:
#     . /lib/testbed.sh
#     . /lib/stacd-lib.sh
# Everything here runs under busybox sh and avoids forks in polling loops
# (TCG makes every fork cost milliseconds).

STACD=${STACD:-/usr/sbin/stacd}
STACD_CONF=${STACD_CONF:-/etc/stas/stacd.conf}
STACD_RUNDIR=/run/stacd
ADDR=127.0.0.1
# shellcheck disable=SC2034 # for the cases
DEAD_PORT=4421 # nvmet-setup never listens here: connects are refused
SUB1=${NVMET_NQNS:-nqn.2024-01.io.testbed:sub1 nqn.2024-01.io.testbed:sub2}
SUB2=${SUB1#* }
SUB1=${SUB1%% *}
SUB2=${SUB2%% *}
STACD_RUN=0 STACD_PID='' STACD_LOG='' STACD_T0=0 STACD_RC=''

# deadline SECS: set DEADLINE to SECS seconds from now (ns); timed_out: it
# has passed. Loops use these rather than counting sleeps, because under TCG
# the work of each round takes as long as the sleep.
deadline() {
	now_ns
	DEADLINE=$((NOW + $1 * 1000000000))
}
timed_out() {
	now_ns
	[ "$NOW" -ge "$DEADLINE" ]
}

# ms_since T0_NS: set MS to the milliseconds elapsed since T0_NS (a now_ns value)
ms_since() {
	now_ns
	MS=$(((NOW - $1) / 1000000))
}

# stacd_id PORT NQN: the display form stacd logs for 127.0.0.1:PORT, NQN
# (nvme-stas's "(transport, traddr, trsvcid, subsysnqn)", docs/design.md §3.1)
stacd_id() {
	echo "(tcp, $ADDR, $1, $2)"
}

# conf_write [PORT NQN]...: write $STACD_CONF with one controller= line per pair
conf_write() {
	mkdir -p "${STACD_CONF%/*}"
	{
		echo "[Controllers]"
		while [ $# -ge 2 ]; do
			echo "controller = transport=tcp;traddr=$ADDR;trsvcid=$1;nqn=$2"
			shift 2
		done
	} >"$STACD_CONF"
}

# stacd_start [ARGS...]: start stacd in the background; stdout and stderr go
# to $STACD_LOG (a new file per start), each line prefixed with the ms since
# the start, e.g. "[  1234 ms] stacd: ...". Sets STACD_PID and STACD_T0 (ns).
# shellcheck disable=SC2120 # the arguments are optional
stacd_start() {
	local fifo
	STACD_RUN=$((STACD_RUN + 1))
	STACD_LOG=/tmp/stacd.$STACD_RUN.log
	fifo=/tmp/stacd.$STACD_RUN.fifo
	rm -f "$fifo"
	mkfifo "$fifo"
	now_ns
	STACD_T0=$NOW
	# The log exists from now on: the stamper opens it only once stacd
	# has opened the FIFO.
	: >"$STACD_LOG"
	_stacd_stamp "$STACD_T0" <"$fifo" >>"$STACD_LOG" &
	STACD_STAMPER=$!
	"$STACD" "$@" >"$fifo" 2>&1 &
	STACD_PID=$!
	STACD_RC=''
	echo "started: stacd${*:+ $*} (pid $STACD_PID, run $STACD_RUN)"
}

_stacd_stamp() { # _stacd_stamp T0_NS: copy lines, prefixed with ms since T0
	local line
	while IFS= read -r line; do
		now_ns
		printf '[%6d ms] %s\n' $(((NOW - $1) / 1000000)) "$line"
	done
}

# proc_gone PID: true once PID has exited (a zombie counts as exited)
proc_gone() {
	local st
	[ -e "/proc/$1/stat" ] || return 0
	read -r _ _ st _ 2>/dev/null <"/proc/$1/stat" || return 0
	[ "$st" = Z ]
}

# stacd_running: the stacd started last is still running
stacd_running() {
	[ -n "$STACD_PID" ] && ! proc_gone "$STACD_PID"
}

# stacd_wait_exit [SECS]: wait (default 10 s) for stacd to exit by itself;
# sets STACD_RC and prints the log. False on timeout (stacd is then killed).
stacd_wait_exit() {
	deadline "${1:-10}"
	while ! proc_gone "$STACD_PID"; do
		if timed_out; then
			echo "stacd (pid $STACD_PID) still running after ${1:-10} s: killing it"
			kill -KILL "$STACD_PID" 2>/dev/null
			wait "$STACD_PID" 2>/dev/null
			STACD_RC=killed
			wait "$STACD_STAMPER" 2>/dev/null
			stacd_show_log
			return 1
		fi
		usleep 10000
	done
	wait "$STACD_PID"
	STACD_RC=$?
	wait "$STACD_STAMPER" 2>/dev/null
	ms_since "$STACD_T0"
	echo "stacd (pid $STACD_PID) exited with status $STACD_RC, $MS ms after its start"
	stacd_show_log
}

# stacd_cpu: set CPU_MS to the CPU time the running stacd has used so far
# (user + system, all threads: fields 14 and 15 of proc(5)'s /proc/PID/stat,
# in clock ticks of 10 ms), and RUN_MS to the time since its start
stacd_cpu() {
	local st
	read -r st <"/proc/$STACD_PID/stat" || st=''
	st=${st##*) } # the fields after the command name
	# shellcheck disable=SC2086 # split into fields on purpose
	set -- $st
	# shellcheck disable=SC2034 # for the cases
	CPU_MS=$(((${12:-0} + ${13:-0}) * 10))
	ms_since "$STACD_T0"
	# shellcheck disable=SC2034 # for the cases
	RUN_MS=$MS
}

# stacd_threads: one line per thread of the running stacd: its name, state,
# user and system CPU in clock ticks, and proc(5)'s /proc/PID/task/TID/syscall
# (the call and its arguments; when not in one, -1 then the stack pointer and
# the program counter, to look up in an unstripped build of the same commit);
# and the kernel stack of those in a call
stacd_threads() {
	local t st
	for t in /proc/"$STACD_PID"/task/*; do
		read -r st <"$t/stat" || continue
		st=${st##*) }
		# shellcheck disable=SC2086 # split into fields on purpose
		set -- $st
		echo "    ${t##*/} $(cat "$t/comm" 2>/dev/null) $1 user=${12} sys=${13} syscall=$(cat "$t/syscall" 2>/dev/null)"
		sed 's/^/        /' "$t/stack" 2>/dev/null | head -n 6
	done
}

# stacd_stop [SIGNAL] [SECS]: send SIGNAL (default TERM) and wait for the exit
# shellcheck disable=SC2120 # the arguments are optional
stacd_stop() {
	kill -"${1:-TERM}" "$STACD_PID" 2>/dev/null
	stacd_wait_exit "${2:-10}"
}

# stacd_show_log: print the log of the last start, indented
stacd_show_log() {
	echo "--- stacd log, run $STACD_RUN:"
	sed 's/^/    /' "$STACD_LOG"
	echo "---"
}

# log_count PATTERN: number of lines of the current log containing PATTERN
log_count() {
	grep -cF -- "$1" "$STACD_LOG" 2>/dev/null || [ -f "$STACD_LOG" ] || echo 0
}

# log_has PATTERN: the current log contains PATTERN
log_has() {
	grep -qF -- "$1" "$STACD_LOG"
}

# stacd_gone: a stacd was started and has exited, and its log is complete
stacd_gone() {
	[ -n "$STACD_PID" ] && proc_gone "$STACD_PID" && proc_gone "$STACD_STAMPER"
}

# wait_log PATTERN [COUNT] [SECS]: wait until COUNT (default 1) lines of the
# current log contain PATTERN, at most SECS (default 10) seconds; gives up at
# once when stacd has exited (its log can no longer grow)
wait_log() {
	local n
	deadline "${3:-10}"
	while :; do
		n=$(log_count "$1")
		case $n in '' | *[!0-9]*) n=0 ;; esac
		[ "$n" -lt "${2:-1}" ] || return 0
		if stacd_gone; then
			echo "wait_log: stacd is no longer running"
			return 1
		fi
		! timed_out || return 1
		usleep 50000
	done
}

# log_ends PATTERN: some line of the current log ends with PATTERN
log_ends() {
	awk -v p="$1" 'length($0) >= length(p) && substr($0, length($0) - length(p) + 1) == p { f = 1 }
		END { exit !f }' "$STACD_LOG"
}

# log_format_ok: every line of the current log is "stacd: <message>"; prints
# the lines that are not
log_format_ok() {
	! grep -v '^\[ *[0-9]* ms\] stacd: ' "$STACD_LOG"
}

# log_ms PATTERN [N]: print the ms stamp of the Nth (default 1st) log line
# containing PATTERN; nothing if there is no such line
log_ms() {
	grep -F -- "$1" "$STACD_LOG" | sed -n "${2:-1}{s/^\[ *\([0-9]*\) ms\].*/\1/p;q}"
}

# --- the kernel's view: /sys/class/nvme and nvme-cli

# ctrl_count: number of NVMe controllers the kernel has
ctrl_count() {
	local c n=0
	for c in /sys/class/nvme/nvme*; do [ ! -e "$c" ] || n=$((n + 1)); done
	echo "$n"
}

# live_count: number of controllers in state "live"
live_count() {
	_live_n
	echo "$N_LIVE"
}

_live_n() { # set N_LIVE without forking
	local c s
	N_LIVE=0
	for c in /sys/class/nvme/nvme*; do
		s=
		read -r s 2>/dev/null <"$c/state"
		[ "$s" != live ] || N_LIVE=$((N_LIVE + 1))
	done
}

# all_live N: exactly N controllers, all of them live
all_live() {
	[ "$(ctrl_count)" = "$1" ] && [ "$(live_count)" = "$1" ]
}

# in_range VALUE LOW HIGH: LOW <= VALUE <= HIGH (integers; false if VALUE is empty)
in_range() {
	[ -n "$1" ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

# wait_live N [SECS] [T0_NS]: wait until at least N controllers are live, at
# most SECS (default 10) s. Sets LIVE_MS to the ms since T0_NS (default: the
# call) and prints it. False on timeout, or at once if the stacd started by
# stacd_start has exited (nothing else connects controllers here).
wait_live() {
	local t0 gone=''
	now_ns
	t0=${3:-$NOW}
	deadline "${2:-10}"
	while :; do
		_live_n
		[ "$N_LIVE" -lt "$1" ] || break
		[ -z "$STACD_PID" ] || ! proc_gone "$STACD_PID" || gone=" (stacd is no longer running)"
		if timed_out || [ -n "$gone" ]; then
			ms_since "$t0"
			LIVE_MS=$MS
			echo "TIMING: only $N_LIVE of $1 controllers live after $LIVE_MS ms (gave up$gone)"
			return 1
		fi
		usleep 10000
	done
	ms_since "$t0"
	LIVE_MS=$MS
	echo "TIMING: $1 controllers live after $LIVE_MS ms"
}

# ctrl_snapshot: one line per controller, "name cntlid subsysnqn address", in
# name order. Two equal snapshots mean no controller was added, removed or
# re-created (a reconnect gets a new cntlid from nvmet).
ctrl_snapshot() {
	local c cntlid nqn addr
	for c in /sys/class/nvme/nvme*; do
		[ -e "$c" ] || continue
		read -r cntlid <"$c/cntlid"
		read -r nqn <"$c/subsysnqn"
		read -r addr <"$c/address"
		echo "${c##*/} $cntlid $nqn $addr"
	done
}

# ctrls_live SNAPSHOT SECS: wait at most SECS for each controller of SNAPSHOT
# that still exists to be live. The kernel resets a controller on its own when
# a keep-alive or a command times out (a VM stalled under TCG), and while it
# reconnects, the address has no src_addr= (drivers/nvme/host/tcp.c,
# nvme_tcp_get_address adds it only while the admin queue is live): a snapshot
# taken then differs though nothing touched the controller. stacd can only
# connect and delete, which the uevent checks see. Says what it waited for,
# with the kernel's messages on that controller, so that a reset is shown,
# never hidden; a controller still not live fails the snapshot check after.
ctrls_live() {
	local n st waited t0
	now_ns
	t0=$NOW
	deadline "$2"
	for n in $(echo "$1" | cut -d' ' -f1); do
		waited=0
		while [ -e "/sys/class/nvme/$n" ]; do
			read -r st <"/sys/class/nvme/$n/state" || st='?'
			[ "$st" != live ] || break
			[ $waited = 1 ] || echo "ctrls_live: $n is $st, not live; waiting for the kernel to reconnect it"
			waited=1
			timed_out && break
			usleep 50000
		done
		[ $waited = 1 ] || continue
		ms_since "$t0"
		[ -e "/sys/class/nvme/$n" ] || st=gone
		echo "ctrls_live: $n $st after $MS ms; the kernel's messages on it:"
		dmesg | grep -E "nvme $n:|nvmet" | tail -n 12 | sed 's/^/    /'
	done
}

# same_snapshot BEFORE AFTER: equal snapshots; prints both when they differ
same_snapshot() {
	[ "$1" = "$2" ] && return 0
	printf 'snapshot before:\n%s\nsnapshot after:\n%s\n' "$1" "$2"
	return 1
}

# snapshot_keeps BEFORE AFTER: every line of BEFORE is also in AFTER (the
# controllers of BEFORE are untouched; AFTER may have more)
snapshot_keeps() {
	local l missing=''
	while IFS= read -r l; do
		case "
$2
" in *"
$l
"*) ;; *) missing="$missing
    $l" ;; esac
	done <<EOF
$1
EOF
	[ -z "$missing" ] && return 0
	printf 'gone or changed:%s\nnow:\n%s\n' "$missing" "$2"
	return 1
}

# ctrl_find PORT NQN: print the names of the controllers connected to
# 127.0.0.1:PORT with subsystem NQN
ctrl_find() {
	local c nqn addr
	for c in /sys/class/nvme/nvme*; do
		[ -e "$c" ] || continue
		read -r nqn <"$c/subsysnqn"
		read -r addr <"$c/address"
		[ "$nqn" = "$2" ] || continue
		case "$addr," in "traddr=$ADDR,trsvcid=$1,"*) echo "${c##*/}" ;; esac
	done
}

# ctrl_live PORT NQN: exactly one controller for (PORT, NQN), and it is live
ctrl_live() {
	local c s
	c=$(ctrl_find "$1" "$2")
	case $c in '' | *[!a-z0-9]*) return 1 ;; esac
	read -r s <"/sys/class/nvme/$c/state"
	[ "$s" = live ]
}

# ctrl_info PORT NQN: "nvmeN cntlid=M" of the controller for (PORT, NQN)
ctrl_info() {
	local c id
	for c in $(ctrl_find "$1" "$2"); do
		read -r id <"/sys/class/nvme/$c/cntlid"
		echo "$c cntlid=$id"
	done
}

# ns_devs CTRL: the namespace block devices reached through controller CTRL.
# With native multipath the controller holds nvmeYcXnZ and the device is the
# subsystem's head /dev/nvmeYnZ; without it, nvmeXnZ (drivers/nvme/host/core.c,
# nvme_alloc_ns, and multipath.c, nvme_set_disk_name).
ns_devs() {
	local p n
	for p in /sys/class/nvme/"$1"/nvme*n*; do
		[ -e "$p" ] || continue
		n=${p##*/}
		case $n in nvme*c*n*) n=${n%%c*}n${n##*n} ;; esac
		echo "/dev/$n"
	done
}

# wait_ns CTRL [SECS]: wait until CTRL has a namespace block device in /dev
wait_ns() {
	local d
	deadline "${2:-10}"
	while :; do
		for d in $(ns_devs "$1"); do [ -b "$d" ] && return 0; done
		! timed_out || return 1
		usleep 10000
	done
}

# list_subsys: save `nvme list-subsys` (nvme-cli) in /tmp/list-subsys and print it
list_subsys() {
	nvme list-subsys >/tmp/list-subsys 2>&1
	sed 's/^/    /' /tmp/list-subsys
}

# subsys_has PORT NQN: the last list_subsys shows a live path to
# 127.0.0.1:PORT under subsystem NQN. nvme-cli 2.x prints
#   nvme-subsys0 - NQN=nqn...
#    +- nvme0 tcp traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1 live
subsys_has() {
	awk -v nqn="$2" -v addr="traddr=$ADDR,trsvcid=$1" '
		/NQN=/ { cur = $0; sub(/.*NQN=/, "", cur); sub(/[ \t].*/, "", cur) }
		/\+- nvme/ && cur == nqn && $NF == "live" {
			a = $4 ","; if (index(a, addr ",") == 1) found = 1 }
		END { exit !found }' /tmp/list-subsys
}

# subsys_paths: number of controller paths in the last list_subsys
subsys_paths() {
	grep -c '+- nvme' /tmp/list-subsys
}

# --- kernel uevents, to count connects and disconnects independently of stacd

# uevents_start: record "ACTION SUBSYSTEM NAME" of every kernel uevent in /tmp/uevents
uevents_start() {
	: >/tmp/uevents
	# shellcheck disable=SC2016 # expanded by the sh that uevent starts
	uevent sh -c 'echo "$ACTION $SUBSYSTEM ${DEVNAME:-${DEVPATH##*/}}" >>/tmp/uevents' &
	UEVENT_PID=$!
	usleep 200000 # let it bind the netlink socket
}

# uevents_stop: stop recording (after the events of the last change arrived)
uevents_stop() {
	usleep 300000
	kill "$UEVENT_PID" 2>/dev/null
	wait "$UEVENT_PID" 2>/dev/null
}

# uevent_count ACTION: number of recorded uevents ACTION (add/remove) of NVMe controllers
uevent_count() {
	grep -c "^$1 nvme nvme[0-9]*\$" /tmp/uevents
}

# --- the reset between cases (run-cases)

# proc_snapshot: remember the user processes now running (in TB_PROCS)
proc_snapshot() {
	local d
	TB_PROCS=' '
	for d in /proc/[0-9]*; do
		[ -e "$d/exe" ] && TB_PROCS="$TB_PROCS${d#/proc/} "
	done
}

# kill_new_procs: end the user processes not in TB_PROCS (kernel threads have
# no exe link); SIGTERM, then SIGKILL after 3 s. Prints what it ended.
kill_new_procs() {
	local d p comm sig left alive ended=''
	for sig in TERM KILL; do
		left=''
		for d in /proc/[0-9]*; do
			p=${d#/proc/}
			[ "$p" != "$$" ] || continue
			[ -e "$d/exe" ] || continue
			case $TB_PROCS in *" $p "*) continue ;; esac
			proc_gone "$p" && continue
			comm=
			read -r comm 2>/dev/null <"$d/comm"
			kill -"$sig" "$p" 2>/dev/null && left="$left $p" && ended="$ended $comm($p,$sig)"
		done
		[ -n "$left" ] || break
		deadline 3
		while :; do
			alive=''
			for p in $left; do proc_gone "$p" || alive="$alive $p"; done
			[ -n "$alive" ] || break
			! timed_out || break
			usleep 10000
		done
	done
	[ -z "$ended" ] || echo "reset: ended leftover processes:$ended"
}

# delete_all_ctrls [SECS]: delete every NVMe controller and wait until
# /sys/class/nvme is empty (default 15 s)
delete_all_ctrls() {
	local c
	for c in /sys/class/nvme/nvme*; do
		[ ! -e "$c/delete_controller" ] || echo 1 2>/dev/null >"$c/delete_controller"
	done
	deadline "${1:-15}"
	while [ "$(ctrl_count)" -gt 0 ]; do
		! timed_out || return 1
		usleep 10000
	done
}

# nvmet_state: the nvmet configuration in configfs, as text to compare
nvmet_state() {
	local f v
	find /sys/kernel/config/nvmet | sort
	for f in /sys/kernel/config/nvmet/ports/*/addr_* \
		/sys/kernel/config/nvmet/subsystems/*/attr_allow_any_host \
		/sys/kernel/config/nvmet/subsystems/*/namespaces/*/enable \
		/sys/kernel/config/nvmet/subsystems/*/namespaces/*/device_path; do
		[ -f "$f" ] || continue
		v=
		read -r v <"$f"
		echo "$f=$v"
	done
}

# tb_reset: bring the guest back to the state after boot: no process left by
# the case, no NVMe controller, no stacd state or config, the boot-time host
# NQN/ID, and nvmet as nvmet-setup left it (re-created if the case changed it;
# the reference is /run/testbed.nvmet, saved by run-cases at its start).
# False (with a message) when something could not be reset.
tb_reset() {
	local ok=0
	kill_new_procs
	if ! delete_all_ctrls 15; then
		echo "reset: controllers still present after 15 s: $(ls /sys/class/nvme)"
		ok=1
	fi
	rm -rf "$STACD_RUNDIR" /etc/stas /etc/nvme /tmp/stacd.*
	mkdir -p /etc/nvme
	echo "$HOSTNQN" >/etc/nvme/hostnqn
	echo "$HOSTID" >/etc/nvme/hostid
	if [ -f /run/testbed.nvmet ] && ! nvmet_state | cmp -s - /run/testbed.nvmet; then
		echo "reset: the case changed nvmet; setting it up again"
		nvmet-setup -c
		# shellcheck disable=SC2086 # a word list on purpose
		if nvmet-setup $TB_NVMET_ARGS >/dev/null && nvmet_state | cmp -s - /run/testbed.nvmet; then
			# shellcheck disable=SC1091 # written by nvmet-setup
			. /run/nvmet.env
		else
			echo "reset: nvmet differs from its state at boot"
			ok=1
		fi
	fi
	return $ok
}

# --- fault injection (tests/vm/fault-*.sh)

# figure LABEL TEXT: print the case's figure; run-cases gathers the figures
# of all cases into one table at the end
figure() {
	echo "FIGURE: $1 | $2"
	[ -z "${TB_RESULTS:-}" ] || echo "FIGURE: $1 | $2" >>"$TB_RESULTS"
}

# nvmet_port SVC: print the configfs directory of the nvmet port 127.0.0.1:SVC
nvmet_port() {
	local p s
	for p in /sys/kernel/config/nvmet/ports/*; do
		s=
		read -r s <"$p/addr_trsvcid" 2>/dev/null
		[ "$s" != "$1" ] || { echo "$p"; return 0; }
	done
	return 1
}

# port_down SVC: unlink every subsystem from port SVC. With no subsystem
# left nvmet stops listening there and drops the port's controllers
# (kernel drivers/nvme/target/configfs.c, nvmet_port_subsys_drop_link).
port_down() {
	local p
	p=$(nvmet_port "$1") || return 1
	rm -f "$p"/subsystems/*
}

# port_up SVC [NQN...]: link the subsystems (default: all of nvmet-setup's)
# to port SVC again
port_up() {
	local p n
	p=$(nvmet_port "$1") || return 1
	shift
	# shellcheck disable=SC2086 # a word list on purpose
	[ $# -gt 0 ] || set -- $NVMET_NQNS
	for n in "$@"; do
		ln -s "/sys/kernel/config/nvmet/subsystems/$n" "$p/subsystems/$n" || return 1
	done
}

# port_add SVC: a new nvmet tcp port on 127.0.0.1:SVC with every subsystem
# (run-cases sets nvmet up again after the case)
port_add() {
	local n=1 p
	while [ -e "/sys/kernel/config/nvmet/ports/$n" ]; do n=$((n + 1)); done
	p=/sys/kernel/config/nvmet/ports/$n
	mkdir "$p" && echo tcp >"$p/addr_trtype" && echo ipv4 >"$p/addr_adrfam" &&
		echo "$ADDR" >"$p/addr_traddr" && echo "$1" >"$p/addr_trsvcid" && port_up "$1"
}

# eight_ctrls: add ports 4430 and 4431 and write $STACD_CONF with the 8
# controllers of 2 subsystems x 4 ports
eight_ctrls() {
	port_add 4430 && port_add 4431 &&
		conf_write 4420 "$SUB1" 4420 "$SUB2" 8009 "$SUB1" 8009 "$SUB2" \
			4430 "$SUB1" 4430 "$SUB2" 4431 "$SUB1" 4431 "$SUB2"
}

# ctx_switches PID: voluntary + involuntary context switches of every
# thread of PID (proc(5), /proc/PID/task/TID/status): a process that never
# wakes up does not add any
ctx_switches() {
	local t k v n=0
	for t in /proc/"$1"/task/*; do
		while read -r k v _; do
			case $k in voluntary_ctxt_switches: | nonvoluntary_ctxt_switches:) n=$((n + v)) ;; esac
		done <"$t/status"
	done
	echo "$n"
}

# proc_status PID KEY: the value of KEY in /proc/PID/status (VmRSS in kB, Threads)
proc_status() {
	local k v
	while read -r k v _; do
		[ "$k" != "$2:" ] || { echo "$v"; return 0; }
	done <"/proc/$1/status"
	return 1
}

# wait_gone PORT NQN [SECS]: wait until no controller serves 127.0.0.1:PORT NQN
wait_gone() {
	local i=0 max=$((${3:-10} * 100))
	while [ -n "$(ctrl_find "$1" "$2")" ]; do
		[ "$i" -lt "$max" ] || return 1
		i=$((i + 1))
		usleep 10000
	done
}

# wait_no_ctrl SECS: wait until /sys/class/nvme has no controller at all
wait_no_ctrl() {
	local i=0 max=$(($1 * 100))
	while [ "$(ctrl_count)" != 0 ]; do
		[ "$i" -lt "$max" ] || return 1
		i=$((i + 1))
		usleep 10000
	done
}

# wait_ctrl_live PORT NQN [SECS]: wait until exactly one controller serves
# 127.0.0.1:PORT NQN and it is live
wait_ctrl_live() {
	local i=0 max=$((${3:-10} * 100))
	until ctrl_live "$1" "$2"; do
		[ "$i" -lt "$max" ] || return 1
		i=$((i + 1))
		usleep 10000
	done
}

# --- D-Bus system bus and the stafd stand-in (examples/stafd-standin.rs),
# which ci/test puts into the guest with dbus-daemon and our bus policy.

STAFD_PAGES=/tmp/stafd-pages.json
DBUS_POLICY=/usr/share/dbus-1/system.d/org.nvmexpress.stac.conf

# stafd_pages [PORT NQN EFLAGS]...: write stafd's get_all_log_pages JSON
# (docs/design.md §3.3) atomically to $STAFD_PAGES, one I/O controller entry
# (subtype nvme, 127.0.0.1:PORT) per triple; EFLAGS 4 is NCC
stafd_pages() {
	local sep=
	{
		printf '[{"discovery-controller": {"transport": "tcp", "traddr": "%s", "trsvcid": "8009", ' "$ADDR"
		printf '"subsysnqn": "nqn.2014-08.org.nvmexpress.discovery", "host-traddr": "", "host-iface": "", '
		printf '"host-nqn": "", "origin": null}, "log-pages": ['
		while [ $# -ge 3 ]; do
			printf '%s{"trtype": "tcp", "adrfam": "ipv4", "traddr": "%s", "trsvcid": "%s", ' "$sep" "$ADDR" "$1"
			printf '"subnqn": "%s", "subtype": "nvme", "treq": "not specified", "eflags": "%s"}' "$2" "$3"
			sep=', '
			shift 3
		done
		printf ']}]\n'
	} >"$STAFD_PAGES.new" && mv "$STAFD_PAGES.new" "$STAFD_PAGES"
}

# system_bus_start: a system bus on /run/dbus/system_bus_socket with our
# policy, on which root may own org.nvmexpress.staf (BUS_PID)
system_bus_start() {
	mkdir -p /run/dbus
	cat >/tmp/system-bus.conf <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
  </policy>
  <policy user="root">
    <allow own="org.nvmexpress.staf"/>
    <allow send_destination="org.nvmexpress.staf"/>
  </policy>
  <include>$DBUS_POLICY</include>
</busconfig>
CONF
	dbus-daemon --config-file=/tmp/system-bus.conf --nofork >/tmp/dbus-daemon.log 2>&1 &
	# shellcheck disable=SC2034 # for the cases, to stop it
	BUS_PID=$!
}

# stafd_start: the stand-in serving $STAFD_PAGES on the system bus (STAF_PID)
stafd_start() {
	DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket \
		stafd-standin "$STAFD_PAGES" >>/tmp/stafd.log 2>&1 &
	# shellcheck disable=SC2034 # for the cases, to stop it
	STAF_PID=$!
}
