#!/bin/sh
# 50stacd initqueue/online hook (sourced by the network module with the
# interface that just came online as $1): try the boot paths now, since
# some may need exactly this interface. No netroot is claimed for this:
# rd.neednet=1 (written by the cmdline hook) is enough for the network
# modules to bring interfaces up and run this hook.
[ -e /run/stacd/boot.done ] || [ ! -e /lib/dracut/hooks/initqueue/finished/50-stacd.sh ] ||
    /sbin/stacd-connect online "$1"
