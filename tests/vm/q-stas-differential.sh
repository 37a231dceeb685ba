#!/bin/sh
# q) Differential test against the original: every configuration of
# tests/stas-corpus (stacd.conf + sys.conf, one directory each; see its
# README.md) is given to nvme-stas's Python stacd 2.4.1 and then to ours,
# each started fresh in the Debian 13 userland (stas-lib.sh) against the
# same nvmet targets (127.0.0.1:4420, :8009, [::1]:4420; nothing at 4421),
# each under strace, which records every string written to
# /dev/nvme-fabrics. What each leaves in the kernel once it has settled
# (ctrl_attrs: address, subsystem, host NQN/ID, host-traddr/iface and every
# connect option sysfs shows, state) and the set of connect strings it
# wrote must be the same, or the configuration carries a "deliberate" note
# naming the section of docs/migrating.md that explains the difference.
# Prints the table: config, controllers by the original, by ours, verdict.
# ci/test puts the corpus into the guest as /opt/stas-corpus.
# case-timeout: 600
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh
# shellcheck source=../../ci/vm/guest/stas-lib.sh
. /lib/stas-lib.sh

CORPUS=${STAS_CORPUS:-/opt/stas-corpus}
OUT=/tmp/diff
LKC=/run/stacd/last-known-config.pickle

check "the corpus is in the guest" [ -d "$CORPUS/01-minimal" ]
check "the Debian 13 userland is mounted, its bus and udevd run" stas_up || { summary; exit 1; }
check "strace is in the userland" [ -x "$STAS/usr/bin/strace" ]
echo "versions: $(stas_versions)"

# The IPv6 target of the ip-family configurations: [::1]:4420, both
# subsystems (run-cases sets nvmet up again after the case).
v6_port() {
	while [ -e "/sys/kernel/config/nvmet/ports/$n" ]; do n=$((n + 1)); done
	p=/sys/kernel/config/nvmet/ports/$n
	mkdir "$p" && echo tcp >"$p/addr_trtype" && echo ipv6 >"$p/addr_adrfam" &&
		echo ::1 >"$p/addr_traddr" && echo 4420 >"$p/addr_trsvcid" || return 1
	for s in $SUB1 $SUB2; do
		ln -s "/sys/kernel/config/nvmet/subsystems/$s" "$p/subsystems/$s" || return 1
	done
}
check "nvmet listens on [::1]:4420 too" v6_port

# settle PID SIDE: wait until the daemon has done its first pass (the
# original writes its last-known-config file at the end of it; ours
# connects at once: 0.5 s) and the kernel's controllers have not changed
# for 1.2 s (a connect takes 0.1-0.3 s here); at most 40 s; returns at once
# when the daemon exited
settle() {
	deadline 40
	now_ns
	since=$NOW
	while ! proc_gone "$1" && ! timed_out; do
		if [ "$2" = original ]; then
			[ ! -f "$LKC" ] || break
		else
			ms_since "$since"
			[ "$MS" -lt 500 ] || break
		fi
		usleep 100000
	done
	prev=$(ctrl_attrs)
	now_ns
	since=$NOW
	while ! proc_gone "$1" && ! timed_out; do
		usleep 250000
		cur=$(ctrl_attrs)
		if [ "$cur" != "$prev" ]; then
			prev=$cur
			now_ns
			since=$NOW
		else
			ms_since "$since"
			[ "$MS" -lt 1200 ] || break
		fi
	done
}

# diff_run SIDE DIR: one configuration, one daemon (SIDE original or ours)
diff_run() {
	side=$1 dir=$2
	o=$OUT/${dir##*/}
	mkdir -p "$o"
	delete_all_ctrls 15 || echo "controllers left: $(ls /sys/class/nvme)"
	rm -rf /run/stacd
	mkdir -p /run/stacd
	stas_etc
	for f in "$dir"/*; do
		case ${f##*/} in pre | deliberate) ;; *) cp "$f" "$STAS/etc/stas/" ;; esac
	done
	if [ -f "$dir/pre" ]; then
		while read -r svc nqn; do
			nvmf_connect "nqn=$nqn,transport=tcp,traddr=$ADDR,trsvcid=$svc,hostnqn=$HOSTNQN,hostid=$HOSTID" ||
				echo "pre: cannot connect $svc $nqn"
		done <"$dir/pre"
	fi
	case $side in
	original) cmd="python3 -u /usr/sbin/stacd" ;;
	*) cmd=$RS_STACD ;;
	esac
	# strace -D: the tracer is a grandchild, so $! is the daemon itself.
	# shellcheck disable=SC2086 # STAS_ENV and cmd are word lists on purpose
	chroot "$STAS" /usr/bin/env -i $STAS_ENV strace -D -f --seccomp-bpf -qq -P /dev/nvme-fabrics \
		-e trace=write -s 4096 -o "$o/$side.strace" $cmd >"$o/$side.log" 2>&1 &
	pid=$!
	settle "$pid" "$side"
	ctrl_attrs >"$o/$side.sysfs"
	if proc_gone "$pid"; then
		wait "$pid"
		rc=$?
		echo "exited $rc" >"$o/$side.rc"
	else
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		: >"$o/$side.rc"
	fi
	[ ! -f "$dir/deliberate" ] || cp "$dir/deliberate" "$o/deliberate"
}

rm -rf "$OUT"
n=0
now_ns
t_all=$NOW
for dir in "$CORPUS"/*/; do
	dir=${dir%/}
	[ -f "$dir/stacd.conf" ] || continue
	n=$((n + 1))
	now_ns
	t0=$NOW
	diff_run original "$dir"
	ms_since "$t0"
	t1=$MS
	diff_run ours "$dir"
	ms_since "$t0"
	echo "${dir##*/}: original ${t1} ms, ours $((MS - t1)) ms"
done
delete_all_ctrls 15
ms_since "$t_all"
echo "$n configurations in $((MS / 1000)) s"

echo
echo "=== differential: nvme-stas's stacd 2.4.1 and ours, the same configurations and targets"
in_stas HOSTNQN="$HOSTNQN" HOSTID="$HOSTID" python3 /usr/local/bin/stas-tool.py difftable "$OUT" >/tmp/diff.table
rc=$?
cat /tmp/diff.table
check "at least 30 configurations ran" [ "$n" -ge 30 ]
check "every difference from the original is accounted for" [ "$rc" = 0 ]
figure "differential (configurations)" "$(grep '^[0-9]* configurations:' /tmp/diff.table)"
# The daemons' own words, for the configurations that differ or are bad.
for d in "$OUT"/*; do
	case ${d##*/} in *bad* | *unknown* | *syntax* | *dead*) ;; *) continue ;; esac
	echo "--- ${d##*/}: nvme-stas's stacd said:"
	sed 's/^/    /' "$d/original.log" | head -n 20
	echo "--- ${d##*/}: ours said:"
	sed 's/^/    /' "$d/ours.log" | head -n 20
done
summary
