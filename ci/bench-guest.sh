#!/bin/sh
# shellcheck shell=dash
# bench-guest.sh - the guest half of ci/bench: measures stacd against
# nvme-cli and against bare writes to /dev/nvme-fabrics on the test bed's
# kernel (nvmet on 127.0.0.1). Prints one line per sample,
#     @bench KIND N CONTENDER VALUE
# (times in microseconds, sizes in KiB), which ci/bench turns into the table.
# Settings (vm-run -e): BENCH_ROUNDS (5), BENCH_SIZES ("1 8 32"),
# BENCH_DEAD_N (8: live controllers next to a dead address), BENCH_IDLE
# (60 s of daemon idle time), BENCH_REPEAT (40 runs of the short commands).
# Needs the dummy module (vm-run -M dummy) for the silent dead address.
#
# Contenders, each started in the background at t0 and timed until the
# wanted controllers are live in /sys/class/nvme (polled every 10 ms,
# without forks); every controller is deleted after each run, then 0.5 s of
# rest; each round takes the contenders in a new random order:
#   floor  bare connects written one after another by one shell, no fork
#          per connect (testbed.sh's nvmf_connect): the serial floor
#   par    one bare connect per subshell, all released at once through a
#          FIFO (timed from the release): do parallel writes help?
#   stacd  stacd --once with one controller= line per subsystem
#   cadd   nvme connect-all against the discovery controller on :4420
#   loop   a shell loop of nvme connect, one per subsystem
# The kernel serialises connects: nvmf_dev_write holds the global
# nvmf_dev_mutex around nvmf_create_ctrl, which returns only once the
# controller is live (drivers/nvme/host/fabrics.c).
#
# Dead addresses (KIND dead and silent):
#   refused  127.0.0.1:4421, where nothing listens: the connect fails at once
#   silent   10.99.0.2:4420, routed to a dummy interface that drops every
#            packet: the kernel gives up after its single SYN retry, ~3 s
#            (nvme_tcp_alloc_queue sets TCP_SYNCNT 1, drivers/nvme/host/tcp.c)
# A dead address comes first in stacd.conf and in the loops (the worst
# place for tools that connect one after another); connect-all meets it as a
# referral, which nvmet lists after the subsystems (nvmet's
# nvmet_execute_disc_get_log_page), so last.
# shellcheck source=vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

ROUNDS=${BENCH_ROUNDS:-5}
SIZES=${BENCH_SIZES:-1 8 32}
DEAD_N=${BENCH_DEAD_N:-8}
IDLE=${BENCH_IDLE:-60}
REPEAT=${BENCH_REPEAT:-40}
PORT=4420
SILENT=10.99.0.2
DISC_NQN=nqn.2014-08.org.nvmexpress.discovery
REFERRAL=/sys/kernel/config/nvmet/ports/1/referrals/dead
NL='
'

say() { echo "@bench $*"; }

# nvmet_for N: nvmet with subsystems sub1..subN on 127.0.0.1:4420 only
nvmet_for() {
	nvmet-setup -c
	nvmet-setup -s "$1" -p "tcp:$ADDR:$PORT" >/dev/null || {
		echo "bench: nvmet-setup -s $1 failed"
		exit 1
	}
	# shellcheck disable=SC1091 # written by nvmet-setup
	. /run/nvmet.env
}

# silent_setup: a dummy interface for 10.99.0.0/24; what is sent there
# vanishes without an answer (drivers/net/dummy.c drops every packet)
silent_setup() {
	ip link add bh0 type dummy 2>/dev/null &&
		ip addr add 10.99.0.1/24 dev bh0 &&
		ip link set bh0 up
}

# dead_target KIND: set DEAD to "ADDR:PORT:NQN" of the dead address of KIND
dead_target() {
	case $1 in
	dead) DEAD=$ADDR:$DEAD_PORT:$SUB1 ;;
	silent) DEAD=$SILENT:$PORT:$SUB1 ;;
	*) DEAD='' ;;
	esac
}

# referral_on ADDR PORT / referral_off: a referral to ADDR:PORT in the
# discovery log of :4420, so that connect-all meets the dead address too
referral_on() {
	mkdir "$REFERRAL" &&
		echo tcp >"$REFERRAL/addr_trtype" &&
		echo ipv4 >"$REFERRAL/addr_adrfam" &&
		echo "$1" >"$REFERRAL/addr_traddr" &&
		echo "$2" >"$REFERRAL/addr_trsvcid" &&
		echo 1 >"$REFERRAL/enable"
}
referral_off() {
	[ ! -d "$REFERRAL" ] || rmdir "$REFERRAL"
}

# targets_for N [KIND]: set TARGETS to "ADDR:PORT:NQN ..." for the first N
# subsystems, after the dead address of KIND (dead, silent) if any
targets_for() {
	local i=0 nqn
	dead_target "${2:-}"
	TARGETS=$DEAD
	for nqn in $NVMET_NQNS; do
		i=$((i + 1))
		[ "$i" -le "$1" ] || break
		TARGETS="$TARGETS $ADDR:$PORT:$nqn"
	done
}

# tsplit T: set T_ADDR, T_PORT, T_NQN from "ADDR:PORT:NQN" (NQNs hold colons)
tsplit() {
	T_ADDR=${1%%:*}
	T_NQN=${1#*:}
	T_PORT=${T_NQN%%:*}
	T_NQN=${T_NQN#*:}
}

# conf_targets: stacd.conf with one controller= line per target
conf_targets() {
	local t
	mkdir -p "${STACD_CONF%/*}"
	{
		echo "[Controllers]"
		for t in $TARGETS; do
			tsplit "$t"
			echo "controller = transport=tcp;traddr=$T_ADDR;trsvcid=$T_PORT;nqn=$T_NQN"
		done
	} >"$STACD_CONF"
}

# _io_live N: set N_IO to the number of live I/O controllers (a discovery
# controller is live too while connect-all reads its log page). No fork,
# and cheap while fewer than N controllers exist: the poll must not take
# the CPU from the contenders (2 vCPUs under TCG, where every system call
# is slow: see the --dry-run figures).
_io_live() {
	local c s q
	N_IO=0
	set -- "$1" /sys/class/nvme/nvme*
	[ "$#" -gt "$1" ] || return 0
	shift
	for c in "$@"; do
		s=
		read -r s 2>/dev/null <"$c/state"
		[ "$s" = live ] || continue
		q=
		read -r q 2>/dev/null <"$c/subsysnqn"
		[ "$q" = "$DISC_NQN" ] || N_IO=$((N_IO + 1))
	done
}

# bare T: connect target T by writing to /dev/nvme-fabrics (no fork)
bare() {
	tsplit "$1"
	nvmf_connect "nqn=$T_NQN,transport=tcp,traddr=$T_ADDR,trsvcid=$T_PORT,hostnqn=$HOSTNQN,hostid=$HOSTID"
}

# --- the contenders; each runs in a background subshell (or execs)

run_floor() {
	local t a slow=0 d
	for t in $TARGETS; do
		now_ns
		a=$NOW
		bare "$t"
		now_ns
		d=$((NOW - a))
		# the slowest single connect of this run (a failed one does not count)
		[ -z "$NVMF_CTRL" ] || [ "$d" -le "$slow" ] || slow=$d
	done
	echo "$slow" >/tmp/bench.slowest
}

run_par() {
	local t go='' fifo=/tmp/bench.go
	rm -f "$fifo"
	mkfifo "$fifo"
	# Held open read-write: neither the children's reads nor our write
	# wait for the other side to open it.
	exec 5<>"$fifo"
	for t in $TARGETS; do
		# Each child reads one byte (busybox read takes a byte at a
		# time from a FIFO), then connects. A child has no children:
		# no SIGCHLD can interrupt its connect.
		(
			read -r _ <&5
			bare "$t"
		) &
		go="$go$NL"
	done
	now_ns
	echo "$NOW" >/tmp/bench.t0
	printf '%s' "$go" >&5
	wait
}

run_stacd() {
	exec "$STACD" --once --timeout 60
}

run_cadd() {
	exec nvme connect-all -t tcp -a "$ADDR" -s "$PORT"
}

run_loop() {
	local t
	for t in $TARGETS; do
		tsplit "$t"
		nvme connect -t tcp -a "$T_ADDR" -s "$T_PORT" -n "$T_NQN"
	done
}

# measure KIND N CONTENDER [DEAD]: one timed run of CONTENDER connecting the
# first N subsystems, after the dead address of kind DEAD (dead, silent) if
# given; reports it as KIND (live, dead, silent; warm for the warm-up), then
# deletes every controller
measure() {
	local kind="$1" n="$2" who="$3" t0 t1 pid got=1
	targets_for "$n" "${4:-}"
	rm -f /tmp/bench.t0 /tmp/bench.slowest
	rm -rf "$STACD_RUNDIR"
	[ "$who" != stacd ] || conf_targets
	if [ "$who" = cadd ] && [ -n "$DEAD" ]; then
		tsplit "$DEAD"
		referral_on "$T_ADDR" "$T_PORT" || echo "bench: cannot add the referral"
	fi
	now_ns
	t0=$NOW
	"run_$who" </dev/null >/tmp/bench.out 2>&1 &
	pid=$!
	deadline 120
	while :; do
		_io_live "$n"
		[ "$N_IO" -lt "$n" ] || break
		if timed_out; then
			got=0
			break
		fi
		usleep 10000
	done
	now_ns
	t1=$NOW
	[ ! -f /tmp/bench.t0 ] || read -r t0 </tmp/bench.t0
	# stacd --once keeps retrying a dead address until its timeout: end it
	# once the live ones are up (it never disconnects anything)
	[ "$who" != stacd ] || [ -z "$DEAD" ] || kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null # no "Terminated" for the stacd ended above
	now_ns
	if [ "$got" = 1 ]; then
		say "$kind $n $who $(((t1 - t0) / 1000))"
		# when the command returned (what a boot script waits for)
		[ "$kind" != live ] || say "exit $n $who $(((NOW - t0) / 1000))"
	else
		say "fail $n $who $kind: only $N_IO of $n live after 120 s"
		sed 's/^/    /' /tmp/bench.out
	fi
	if [ "$who" = floor ] && [ "$kind" = live ] && [ -f /tmp/bench.slowest ]; then
		read -r t0 </tmp/bench.slowest
		say "slowest $n floor $((t0 / 1000))"
	fi
	if [ "$got" = 1 ] && [ "$(ctrl_count)" != "$n" ]; then
		say "fail $n $who $kind: $(ctrl_count) controllers instead of $n after the run"
	fi
	referral_off
	delete_all_ctrls 30 || say "fail $n $who $kind: controllers left after 30 s"
	# let the kernel finish tearing them down (target queues, namespaces)
	# before the next contender starts
	usleep 500000
}

# usage KIND WHO COMMAND...: peak RSS (KiB) and CPU time (user + system,
# ms; busybox time, 10 ms resolution) of COMMAND, from its rusage. The
# kernel's work for a connect runs partly in the writing thread (counted)
# and partly in kernel workers (not counted), the same for every writer.
usage() {
	local kind="$1" who="$2" kb u s
	shift 2
	command time -f '%M %U %S' -o /tmp/bench.rss "$@" >/dev/null 2>&1 </dev/null
	read -r kb u s </tmp/bench.rss
	say "rss-$kind 0 $who $kb"
	say "cpu-$kind 0 $who $(($(secs_ms "$u") + $(secs_ms "$s")))"
}
# secs_ms S.FF: seconds with two decimals as ms (no octal trap for "0.08")
secs_ms() {
	echo $((${1%.*} * 1000 + (1${1#*.} - 100) * 10))
}
# `bench-guest.sh floor|par TARGETS`: only the bare connects, as a command
# of their own, so that busybox time can take their CPU time
case ${1:-} in
floor | par)
	TARGETS=$2
	"run_$1"
	exit 0
	;;
esac

# --- 5: nvme-stas's Python stacd 2.4.1 and ours as daemons, side by side,
# both in the Debian 13 userland (ci/vm/stas-image, stas-lib.sh) on its
# system bus. Samples: "@bench stas WHO KEY VALUE", WHO py or rs.

# cpu_ms PID: user + system CPU time of PID (all threads) so far, ms
# (proc(5): utime and stime, fields 14 and 15, in clock ticks of 10 ms)
cpu_ms() {
	# shellcheck disable=SC2016 # awk's own $14, $15
	awk '{ sub(/^.*\) /, ""); print ($12 + $13) * 10 }' "/proc/$1/stat"
}
kb_of() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# tctx PID: "TID NAME SWITCHES" per thread of PID, for the note on which
# threads woke up
tctx() {
	local t n
	for t in /proc/"$1"/task/*; do
		n=
		read -r n 2>/dev/null <"$t/comm"
		awk -v t="${t##*/}" -v n="$n" '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print t, n, s + 0 }' "$t/status" 2>/dev/null
	done
}
# twake: compares the threads of DPID with what tctx wrote to
# /tmp/bench.tctx: sets WAKE to the switches since then (a thread started
# since counts from 0; one that ended since is lost, so with threads that
# came and went WAKE is a lower bound) and WOKE to "NAME:SWITCHES ...",
# with the number of threads started and ended
twake() {
	tctx "$DPID" | awk 'FNR == NR { was[$1] = $3; n++; next }
		{ if ($1 in was) kept++; else new++
		  d = $3 - was[$1]
		  if (d > 0) { w += d; o = o sprintf("%s%s:%d", (o == "" ? "" : " "), $2, d) } }
		END { printf "%d %s (threads started %d, ended %d)\n", w, (o == "" ? "none" : o), new, n - kept }' \
		/tmp/bench.tctx - >/tmp/bench.twake
	read -r WAKE WOKE </tmp/bench.twake
}

# stas_daemon WHO: start nvme-stas's stacd (py) or ours (rs) in the chroot;
# sets DPID and T0
stas_daemon() {
	rm -rf /run/stacd
	mkdir -p /run/stacd
	now_ns
	T0=$NOW
	case $1 in
	py) stas_bg /tmp/bench.stas.log python3 -u /usr/sbin/stacd ;;
	rs) stas_bg /tmp/bench.stas.log "$RS_STACD" ;;
	esac
	DPID=$BG_PID
}
stas_stop() {
	stop_pid "$DPID" 30
	delete_all_ctrls 30
	usleep 500000
}

stas_round() { # stas_round WHO
	w=$1
	# 32 live controllers from stacd.conf
	targets_for "$big"
	conf_targets
	cp "$STACD_CONF" "$STAS/etc/stas/stacd.conf"
	stas_daemon "$w"
	deadline 120
	N_IO=0
	bus=''
	until [ -n "$bus" ] && [ "$N_IO" -ge "$big" ]; do
		if [ -z "$bus" ] && on_bus org.nvmexpress.stac; then
			ms_since "$T0"
			bus=$MS
		fi
		_io_live "$big"
		if [ "$N_IO" -ge "$big" ] && [ -z "${live:-}" ]; then
			ms_since "$T0"
			live=$MS
		fi
		timed_out && break
		usleep 20000
	done
	if [ -z "$bus" ] || [ -z "${live:-}" ]; then
		say "fail $big stas $w: bus ${bus:-no}, $N_IO of $big live after 120 s"
		sed 's/^/    /' /tmp/bench.stas.log | tail -n 20
		stas_stop
		return
	fi
	say "stas $w bus-ms $bus"
	say "stas $w live-ms $live"
	usleep 3000000
	say "stas $w cpu-start-ms $(cpu_ms "$DPID")"
	say "stas $w rss $(kb_of "$DPID" VmRSS)"
	say "stas $w threads $(kb_of "$DPID" Threads)"
	c0=$(cpu_ms "$DPID")
	now_ns
	t0=$NOW
	i=0
	while [ "$i" -lt 200 ]; do
		in_stas dbus-send --system --print-reply --dest=org.nvmexpress.stac /org/nvmexpress/stac \
			org.nvmexpress.stac.list_controllers boolean:true >/dev/null 2>&1 ||
			say "fail 200 stas $w: list_controllers call $i failed"
		i=$((i + 1))
	done
	ms_since "$t0"
	say "stas $w calls-ms $MS"
	say "stas $w cpu-calls-ms $(($(cpu_ms "$DPID") - c0))"
	say "stas $w rss-calls $(kb_of "$DPID" VmRSS)"
	say "stas $w hwm $(kb_of "$DPID" VmHWM)"
	usleep 2000000
	c0=$(cpu_ms "$DPID")
	tctx "$DPID" >/tmp/bench.tctx
	sleep "$IDLE"
	twake
	say "stas $w wake-live $WAKE"
	say "note stas $w live: threads woken: $WOKE"
	say "stas $w cpu-idle-live $(($(cpu_ms "$DPID") - c0))"
	stas_stop
	live=''

	# 8 unreachable controllers (refused at 127.0.0.1:4421): retried
	TARGETS=''
	i=0
	for nqn in $NVMET_NQNS; do
		i=$((i + 1))
		[ "$i" -le 8 ] || break
		TARGETS="$TARGETS $ADDR:$DEAD_PORT:$nqn"
	done
	conf_targets
	cp "$STACD_CONF" "$STAS/etc/stas/stacd.conf"
	stas_daemon "$w"
	wait_bus org.nvmexpress.stac 120 || say "fail 8 stas $w: not on the bus"
	# past the first attempts and the fast retry 3 s later
	sleep 10
	c0=$(cpu_ms "$DPID")
	tctx "$DPID" >/tmp/bench.tctx
	sleep "$IDLE"
	twake
	say "stas $w wake-dead $WAKE"
	say "note stas $w dead: threads woken: $WOKE"
	say "stas $w cpu-idle-dead $(($(cpu_ms "$DPID") - c0))"
	stas_stop

	# what it needs to run: the files it opens and executes until its
	# name is on the bus (strace), outside /proc, /sys, /dev, /run, /tmp
	# and the configuration
	: >"$STAS/etc/stas/stacd.conf"
	rm -rf /run/stacd
	mkdir -p /run/stacd
	case $w in
	py) cmd="python3 -u /usr/sbin/stacd" ;;
	rs) cmd=$RS_STACD ;;
	esac
	# shellcheck disable=SC2086 # STAS_ENV and cmd are word lists on purpose
	chroot "$STAS" /usr/bin/env -i $STAS_ENV strace -D -f -qq -e trace=openat,open,execve \
		-o /tmp/bench.strace $cmd >/dev/null 2>&1 &
	DPID=$!
	wait_bus org.nvmexpress.stac 120 || say "fail 0 stas $w: not on the bus under strace"
	usleep 2000000
	stop_pid "$DPID" 30
	say "stas $w opened $(in_stas python3 /usr/local/bin/stas-tool.py opened /tmp/bench.strace)"
}

# shellcheck source=vm/guest/stas-lib.sh
. /lib/stas-lib.sh

# stas_part: part 5 (nvme-stas's stacd and ours), $big controllers
stas_part() {
	if stas_disk >/dev/null && stas_up >/dev/null; then
		say "stas versions $(stas_versions)"
		say "stas idle $IDLE"
		say "stas n $big"
		nvmet_for "$big"
		say "stas py closure $(in_stas python3 /usr/local/bin/stas-tool.py closure nvme-stas)"
		sz=$(stat -c %s "$STAS$RS_STACD")
		say "stas rs closure packages 1 files 1 bytes $sz"
		r=0
		while [ "$r" -lt "${BENCH_STAS_ROUNDS:-1}" ]; do
			for w in $(printf 'py\nrs\n' | shuf); do stas_round "$w"; done
			r=$((r + 1))
		done
	else
		say "fail 0 stas: no Debian 13 userland disk (ci/bench attaches ci/vm/stas-image)"
	fi
}

big=1
for n in $SIZES; do [ "$n" -le "$big" ] || big=$n; done
# BENCH_PART=5 (ci/bench --stas): part 5 alone
if [ "${BENCH_PART:-}" = 5 ]; then
	say "info kernel $(uname -r), $(nproc) vCPU, $("$STACD" --version | sed -n 1p)"
	stas_part
	say "done"
	exit 0
fi

# --- 1 and 2: time until live, and the dead addresses

say "info kernel $(uname -r), $(nproc) vCPU, nvme-cli $(nvme version | sed -n 's/^nvme version \([^ ]*\).*/\1/p'), $("$STACD" --version | sed -n 1p)"
kinds=dead
if silent_setup; then
	kinds="dead silent"
else
	say "fail 0 - silent: no dummy interface (vm-run -M dummy); no silent dead address"
fi
all="floor par stacd cadd loop"
for n in $SIZES; do
	nvmet_for "$n"
	list=$all
	if [ "$n" = "$DEAD_N" ]; then
		for k in $kinds; do
			for c in $all; do list="$list $c/$k"; done
		done
	fi
	# Round 0 is a warm-up, reported as "warm" and left out of the
	# figures: under TCG the first run of a code path also pays for its
	# translation. Each round takes the contenders in a new random order,
	# so that none always follows the same one.
	r=0
	while [ "$r" -le "$ROUNDS" ]; do
		# shellcheck disable=SC2086 # a word list
		for c in $(printf '%s\n' $list | shuf); do
			dk=''
			case $c in */*) dk=${c#*/} ;; esac
			k=${dk:-live}
			[ "$r" != 0 ] || k=warm
			measure "$k" "$n" "${c%/*}" "$dk"
		done
		r=$((r + 1))
	done
	# CPU time and peak RSS of connecting the N, one command each
	targets_for "$n"
	conf_targets
	for i in 1 2 3; do
		rm -rf "$STACD_RUNDIR"
		usage "connect-$n" stacd "$STACD" --once --timeout 60
		delete_all_ctrls 30
		usage "connect-$n" cadd nvme connect-all -t tcp -a "$ADDR" -s "$PORT"
		delete_all_ctrls 30
		usage "connect-$n" floor "$0" floor "$TARGETS"
		delete_all_ctrls 30
		usage "connect-$n" par "$0" par "$TARGETS"
		delete_all_ctrls 30
	done
done

# --- 3: cost

# version wall time: fork + exec + run + exit, alternating the two programs
i=0
while [ "$i" -lt "$REPEAT" ]; do
	now_ns
	t0=$NOW
	"$STACD" --version >/dev/null
	now_ns
	say "version 0 stacd $(((NOW - t0) / 1000))"
	t0=$NOW
	nvme version >/dev/null
	now_ns
	say "version 0 nvme $(((NOW - t0) / 1000))"
	i=$((i + 1))
done

for i in 1 2 3; do
	usage version stacd "$STACD" --version
	usage version nvme nvme version
done

big=1
for n in $SIZES; do [ "$n" -le "$big" ] || big=$n; done
nvmet_for "$big"
targets_for "$big"
conf_targets

# stacd --dry-run scans /sys/class/nvme and plans, without connecting:
# with none and with $big controllers connected; the difference is the cost
# of scanning (and matching) them on a real sysfs
dry_runs() {
	local i=0
	while [ "$i" -lt "$REPEAT" ]; do
		now_ns
		t0=$NOW
		"$STACD" --dry-run >/dev/null 2>&1
		now_ns
		say "dryrun $1 stacd $(((NOW - t0) / 1000))"
		i=$((i + 1))
	done
	for i in 1 2 3 4 5; do usage "dryrun$1" stacd "$STACD" --dry-run; done
}
rm -rf "$STACD_RUNDIR"
dry_runs 0
run_floor
dry_runs "$big"
delete_all_ctrls 30

# ctxt: set CTXT to the context switches of every thread of the daemon
ctxt() {
	CTXT=$(cat /proc/"$STACD_PID"/task/*/status 2>/dev/null |
		awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print s + 0 }')
}
# status_kb FIELD: a field of the daemon's /proc/PID/status
status_kb() {
	awk -v f="$1:" '$1 == f { print $2 }' "/proc/$STACD_PID/status"
}
rm -rf "$STACD_RUNDIR"
stacd_start >/dev/null
if wait_live "$big" 60 "$STACD_T0" >/dev/null && wait_log "Connection established!" "$big" 30; then
	usleep 2000000 # let the namespace scans and their uevents pass
	ctxt
	c0=$CTXT
	now_ns
	t0=$NOW
	sleep "$IDLE"
	ctxt
	ms_since "$t0"
	say "daemon $big wakeups $((CTXT - c0))"
	say "daemon $big idle-ms $MS"
	say "daemon $big threads $(status_kb Threads)"
	say "daemon $big rss $(status_kb VmRSS)"
	say "daemon $big hwm $(status_kb VmHWM)"
else
	say "fail $big daemon: did not connect $big controllers"
	stacd_show_log
fi
stacd_stop >/dev/null
delete_all_ctrls 30

stas_part
say "done"
