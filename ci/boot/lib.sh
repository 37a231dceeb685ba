# shellcheck shell=bash
# lib.sh - shared by ci/boot/mkinitrd-*: fetch Debian packages with
# `apt-get download` and unpack them into a directory, without installing
# anything on this machine. The caller defines msg and die.

# APT_SUITE: another Debian suite (e.g. trixie) to fetch from, through
# ci/apt-suite (a private apt configuration); empty: this machine's own
APT_SUITE=${APT_SUITE:-}

# apt_download PKG...: fetch .deb files into the current directory
apt_download() {
	if [ -n "$APT_SUITE" ]; then
		"$(dirname "${BASH_SOURCE[0]}")/../apt-suite" "$APT_SUITE" download "$@" >>apt.log 2>&1 && return
		cat apt.log >&2
		die "cannot download $* from $APT_SUITE (ci/apt-suite)"
	fi
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

# usr_merge ROOT: the top-level links of a merged /usr (Debian 13's
# packages ship their files under /usr only; base-files makes these links
# on a real system): bin, sbin, lib, lib64 -> usr/...; a package's file
# outside /usr moves in
usr_merge() {
	local d
	for d in bin sbin lib lib64; do
		mkdir -p "$1/usr/$d"
		if [ -d "$1/$d" ] && [ ! -L "$1/$d" ]; then
			cp -a "$1/$d/." "$1/usr/$d/"
			rm -rf "${1:?}/$d"
		fi
		ln -sfn "usr/$d" "$1/$d"
	done
}
