#!/bin/sh
# TEST ONLY (ci/boot): emergency and shutdown-emergency hook of 49nvmet-test,
# after 50stacd's (90 > 50): with systemd in the image, print what the
# journal holds of stacd's boot report, so that ci/boot/run can check that
# the report reached the journal and not only the console. journald reads
# the kernel log on its own schedule: wait up to 3 s for the report's lines.
# To the console itself: a hook's standard output may be the journal
# (dracut-initqueue.service).
if command -v journalctl > /dev/null 2>&1 && [ -d /run/systemd/system ] &&
    [ ! -e /run/nvmet-test.journal ]; then
    : > /run/nvmet-test.journal
    _nt_i=0
    while [ $_nt_i -lt 30 ] &&
        ! journalctl -b -q --no-pager -o cat 2> /dev/null | grep -q '^stacd: NVMe-oF boot report'; do
        sleep 0.1
        _nt_i=$((_nt_i + 1))
    done
    journalctl -b -q --no-pager -o cat 2> /dev/null | grep '^stacd: ' |
        while IFS= read -r _nt_l; do echo "nvmet-test: journal: $_nt_l" > /dev/console; done
    unset _nt_i _nt_l
fi
