#!/bin/sh
# o) A host with /etc/nvme/hostnqn but no /etc/nvme/hostid (the ID is
# optional; nvme-stas then leaves hostid= out). Left out, the kernel fills
# in the ID of its own default host, whose NQN is not ours; kernels that
# keep NQN and ID one-to-one refuse that connect with EINVAL ("found same
# hostid ... but different hostnqn", drivers/nvme/host/fabrics.c,
# nvmf_host_add; Debian 13's 6.12 does, Debian 12's 6.1 does not). stacd
# sends the UUID that the NQN carries as the ID, as nvme-cli does, and
# connects on both.
# shellcheck source=../../ci/vm/guest/testbed.sh
. /lib/testbed.sh
# shellcheck source=../../ci/vm/guest/stacd-lib.sh
. /lib/stacd-lib.sh

rm -f /etc/nvme/hostid
uuid=${HOSTNQN##*:uuid:}
conf_write 4420 "$SUB1"

# the kernel's own answer to a connect without hostid=, for the record
r=$(nvmf-connect "nqn=$SUB1,transport=tcp,traddr=$ADDR,trsvcid=4420,hostnqn=$HOSTNQN" 2>&1)
rc=$?
echo "bare connect without hostid=: status $rc, reply ${r:-none}"
dmesg | grep 'nvme_fabrics: found same' | tail -n 1
for c in /sys/class/nvme/nvme*; do [ ! -e "$c/delete_controller" ] || echo 1 >"$c/delete_controller"; done
check "the bare connect's controller is gone before stacd runs" wait_no_ctrl 5

"$STACD" --once >/tmp/stacd.once.log 2>&1
rc=$?
sed 's/^/    /' /tmp/stacd.once.log
check "stacd --once without /etc/nvme/hostid: exit status 0 (has $rc)" [ "$rc" = 0 ]
check "sysfs: the controller is live" ctrl_live 4420 "$SUB1"
c=$(ctrl_find 4420 "$SUB1")
check "sysfs: its host ID is the UUID in the host NQN ($uuid)" \
	[ "$(cat "/sys/class/nvme/$c/hostid" 2>/dev/null)" = "$uuid" ]
check "sysfs: its host NQN is ours" [ "$(cat "/sys/class/nvme/$c/hostnqn" 2>/dev/null)" = "$HOSTNQN" ]
