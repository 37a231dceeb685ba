#!/bin/sh
# pre-trigger hook of 49nvmet-test (sourced by dracut's init): start the test
# target, in the background when nvmet_test.delay=SECS asks for a late one.
# shellcheck disable=SC1091 # dracut's library, in the image only
type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh

nvmet_test_delay=$(getarg nvmet_test.delay=)
if [ -n "$nvmet_test_delay" ]; then
    info "nvmet-test: target in ${nvmet_test_delay} s"
    (sleep "$nvmet_test_delay" && /sbin/nvmet-test-setup) < /dev/null > /dev/console 2>&1 &
else
    /sbin/nvmet-test-setup || warn "nvmet-test: target setup failed"
fi
unset nvmet_test_delay
