# shellcheck shell=bash
# lib.sh - shared by ci/boot/mkinitrd-*: fetch Debian packages with
# `apt-get download` and unpack them into a directory, without installing
# anything on this machine. The caller defines msg and die.

# apt_download PKG...: fetch .deb files into the current directory
apt_download() {
	apt-get download "$@" >>apt.log 2>&1 && return
	if [ "$(id -u)" = 0 ]; then
		msg "apt-get download failed; trying apt-get update first"
		apt-get update >>apt.log 2>&1 && apt-get download "$@" >>apt.log 2>&1 && return
	fi
	cat apt.log >&2
	die "cannot download $* (is 'apt-get update' done?)"
}

# unpack_debs DIR PKG...: download PKGs and unpack them all into DIR/root
# (made anew); DIR/.versions lists "package<TAB>version"
unpack_debs() {
	local dir=$1 tmp
	shift
	rm -rf "$dir/root"
	tmp=$(mktemp -d "$dir/tmp.XXXXXX")
	chmod 755 "$tmp"
	(cd "$tmp" && apt_download "$@" &&
		for d in *.deb; do dpkg-deb -x "$d" root && dpkg-deb -W "$d"; done >versions) || {
		rm -rf "$tmp"
		die "cannot unpack $*"
	}
	mv "$tmp/root" "$dir/root"
	mv "$tmp/versions" "$dir/.versions"
	rm -rf "$tmp"
}
