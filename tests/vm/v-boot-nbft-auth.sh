#!/bin/sh
# shellcheck shell=dash
# v) NBFT security profiles on a real kernel (6.12 only: 6.1 is built
# without CONFIG_NVME_HOST_AUTH; ci/test lists this case for 6.12 only). The
# table (tests/fixtures/nbft/generated/NBFT-testbed-security, written by
# tests/common/nbft_gen.rs, embedded below; tests/nbft_security.rs checks the
# copy) has SSNS 1 = sub1 whose security profile requires in-band
# authentication (DH-HMAC-CHAP) and SSNS 2 = sub2 whose profile requires a
# secure channel (TLS). nvmet requires DH-HMAC-CHAP from the table's host
# NQN on sub1 and sub2. Through the root seam, as at boot (see j-boot-nbft.sh):
#  1. the host has no key: both paths are skipped, each with one line that
#     names the SSNS and what is missing; nothing is connected;
#  2. the host key in /etc/stas/sys.conf: sub1 connects and the kernel
#     authenticates it; sub2 is still skipped (TLS); the key is in no
#     output.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

boot_root() { # see h-boot-discover.sh
	BOOT_ROOT=/tmp/bootroot
	rm -rf "$BOOT_ROOT"
	mkdir -p "$BOOT_ROOT/proc" "$BOOT_ROOT/sys/firmware/acpi/tables"
	for d in dev etc run; do ln -s "/$d" "$BOOT_ROOT/$d"; done
	ln -s /sys/class "$BOOT_ROOT/sys/class"
	printf '%s\n' "$1" >"$BOOT_ROOT/proc/cmdline"
}

NBFT_NQN=nqn.2014-08.org.nvmexpress:uuid:b0070000-0000-4000-8000-0000000000f7
boot_root "quiet"
base64 -d >"$BOOT_ROOT/sys/firmware/acpi/tables/NBFT" <<'NBFT'
TkJGVGsDAAABWVNUQUNEIFRFU1RCRUQgAAAAAAAAAAAAAAAAQAIAACsBAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAEBAAAAAAEAgAAAACAAAACgAAAAIAAAAcAAAACAAAACwAEAAEAAAAIAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAACB7AHAAAAAEAAgAAAAAAAAPdAAgAARAAAAAAAAAAAAAMBAQMAAAAAAAAA
AAAAAACFAgAAgAAAAAAAAAAAAAAABAEAAQADAQAAAAUDAAAQABUDAAAEAAAAAQAAAAAAAAAAAAAA
AAAAAAAAAAAAAQEAAAAAAAAAGgMAABsAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAgABAAMBAAAANgMAABAARgMAAAQA
AAABAAAAAAAAAAAAAAAAAAAAAAAAAAACAQAAAAAAAABLAwAAGwAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAUBBQAAAAAA
AAAAAAAAAAAAAAAAAAAAAGcDAAABAGgDAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAF
AkEAAAAAAAAAAAAAAAAAAAAAAAAAAABpAwAAAQBqAwAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAbnFuLjIwMTQtMDgub3JnLm52bWV4cHJlc3M6dXVpZDpiMDA3MDAwMC0wMDAwLTQwMDAt
ODAwMC0wMDAwMDAwMDAwZjcABwEDAQEAAQAAAAAAAAAAAAAAAAEAAAAAAAAAAAAA//9/AAABCAAA
AAAAAAAAAAD//wAAAAAAAAAAAAAAAAAAAAAA//8AAAAAAAAAAAAAAAAAAP//AAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA//9/AAABNDQyMABucW4u
MjAyNC0wMS5pby50ZXN0YmVkOnN1YjEAAAAAAAAAAAAAAP//fwAAATQ0MjAAbnFuLjIwMjQtMDEu
aW8udGVzdGJlZDpzdWIyAAEBAQE=
NBFT
check "the kernel has host-side DH-HMAC-CHAP (dhchap_secret in /dev/nvme-fabrics' options)" \
	grep -q dhchap_secret /dev/nvme-fabrics
STACD_ROOT=$BOOT_ROOT "$STACD" --dump-nbft >/tmp/dump 2>&1
check "--dump-nbft shows both profiles" grep -q '^security_list\[1\]->index=2$' /tmp/dump

CFS=/sys/kernel/config/nvmet
H=$CFS/hosts/$NBFT_NQN
KEY=$(nvme gen-dhchap-key --nqn="$NBFT_NQN" --hmac=1)
check "nvme gen-dhchap-key made a key" [ -n "$KEY" ]
mkdir -p "$H"
echo "hmac(sha256)" >"$H/dhchap_hash"
echo ffdhe2048 >"$H/dhchap_dhgroup"
echo "$KEY" >"$H/dhchap_key"
for s in "$SUB1" "$SUB2"; do
	echo 0 >"$CFS/subsystems/$s/attr_allow_any_host"
	ln -s "$H" "$CFS/subsystems/$s/allowed_hosts/$NBFT_NQN"
done

# once LABEL: stacd --once through the boot root; its output and log in
# /tmp/v-once.{out,err}, both shown
once() {
	dmesg -c >/dev/null
	STACD_ROOT=$BOOT_ROOT "$STACD" --once --timeout 15 >/tmp/v-once.out 2>/tmp/v-once.err
	rc=$?
	echo "$1: --once exited $rc"
	sed 's/^/    out: /' /tmp/v-once.out
	sed 's/^/    log: /' /tmp/v-once.err
	cat /tmp/v-once.out /tmp/v-once.err >>/tmp/v-all
}
said() { grep -qF -- "$1" /tmp/v-once.out /tmp/v-once.err; }
: >/tmp/v-all
TLS_WHY="NBFT SSNS 2: security profile 2 requires a secure channel (NVMe/TCP TLS), which a boot from the NBFT cannot set up"

# --- 1. no host key
rm -f /etc/stas/sys.conf /etc/nvme/hostkey
once "no host key"
check "no key: SSNS 1 skipped, saying why" \
	said "NBFT SSNS 1: security profile 1 requires in-band authentication (DH-HMAC-CHAP) and the host has no key"
check "no key: SSNS 2 skipped, saying why" said "$TLS_WHY"
check "no key: nothing connected" [ "$(ctrl_count)" = 0 ]

# --- 2. the host key in sys.conf
mkdir -p /etc/stas
printf '[Host]\nkey=%s\n' "$KEY" >/etc/stas/sys.conf
chmod 600 /etc/stas/sys.conf
once "sys.conf host key"
check "host key: --once exits 0 (every wanted path live)" [ "$rc" = 0 ]
check "host key: sub1 at $ADDR:4420 live" ctrl_live 4420 "$SUB1"
check "host key: the kernel authenticated it" \
	sh -c "dmesg | grep -q 'authenticated with hash hmac(sha256) dhgroup ffdhe2048'"
c=$(ctrl_find 4420 "$SUB1")
check "host key: $c uses the table's host NQN" [ "$(cat "/sys/class/nvme/$c/hostnqn" 2>/dev/null)" = "$NBFT_NQN" ]
check "host key: SSNS 2 still skipped (TLS)" said "$TLS_WHY"
check "host key: sub2 not connected" [ -z "$(ctrl_find 4420 "$SUB2")" ]
check "exactly 1 controller" [ "$(ctrl_count)" = 1 ]
body=${KEY#DHHC-1:??:}
body=${body%:}
check "the key's base64 body is in no output or state file" \
	sh -c "! grep -rqF -- '$body' /tmp/v-all $STACD_RUNDIR"

delete_all_ctrls
rm -f /etc/stas/sys.conf
for s in "$SUB1" "$SUB2"; do
	rm -f "$CFS/subsystems/$s/allowed_hosts/$NBFT_NQN"
	echo 1 >"$CFS/subsystems/$s/attr_allow_any_host"
done
rmdir "$H"
summary
