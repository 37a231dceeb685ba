# Makefile - build and install stacd (docs/install.md).
#
#   make                    the static release binary (cargo, musl target)
#   make install            everything below, under $(DESTDIR)
#   make install-bin        stacd, and stacctl as a link to it
#   make install-conf       /etc/stas/stacd.conf (never overwritten) and sys.conf.doc
#   make install-dbus       the D-Bus policy of org.nvmexpress.stac
#   make install-systemd    stacd.service
#   make install-dracut     the dracut module(s) in dracut/NNname/
#   make install-initramfs  the initramfs-tools hook and scripts in initramfs/
#   make install-man        stacd(8), stacd.conf(5), stacctl(1)
#   make install-doc        README and docs/ (and the dracut.conf.d example)
#   make uninstall          remove what install put there, except stacd.conf
#
# DESTDIR is prepended to every path (packaging, images); PREFIX (default
# /usr) decides where the binaries, man pages, docs and the unit go. The
# D-Bus policy, the dracut module and the initramfs-tools files go where
# dbus-daemon, dracut and initramfs-tools read them, whatever PREFIX is;
# each directory below can be set on the command line.

PREFIX ?= /usr
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/stacd
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
DBUSPOLICYDIR ?= /usr/share/dbus-1/system.d
DRACUTMODDIR ?= /usr/lib/dracut/modules.d
INITRAMFSDIR ?= /usr/share/initramfs-tools

CARGO ?= cargo
TARGET ?= x86_64-unknown-linux-musl
# e.g. CARGOFLAGS=--no-default-features for the build without D-Bus
CARGOFLAGS ?=
# The binary install-bin installs (a prebuilt one can be named here).
STACD_BIN ?= target/$(TARGET)/release/stacd
INSTALL ?= install

INSTALL_PARTS := install-bin install-conf install-dbus install-systemd \
	install-dracut install-initramfs install-man install-doc

.PHONY: all build install $(INSTALL_PARTS) uninstall

all: build

build:
	$(CARGO) build --release --target $(TARGET) $(CARGOFLAGS)

# Built when missing; `make` first rebuilds it when the sources changed.
$(STACD_BIN):
	$(CARGO) build --release --target $(TARGET) $(CARGOFLAGS)

install: $(INSTALL_PARTS)

install-bin: $(STACD_BIN)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 755 $(STACD_BIN) $(DESTDIR)$(SBINDIR)/stacd
	ln -sfr $(DESTDIR)$(SBINDIR)/stacd $(DESTDIR)$(BINDIR)/stacctl

# An existing stacd.conf is the administrator's: it is never overwritten.
# When it differs from the shipped one, the shipped one is installed next to
# it as stacd.conf.new (the same as a package's noreplace configuration).
install-conf:
	$(INSTALL) -d $(DESTDIR)$(SYSCONFDIR)/stas
	@conf=$(DESTDIR)$(SYSCONFDIR)/stas/stacd.conf; \
	if [ ! -e "$$conf" ]; then \
		echo "$(INSTALL) -m 644 etc/stas/stacd.conf $$conf"; \
		$(INSTALL) -m 644 etc/stas/stacd.conf "$$conf"; \
	elif ! cmp -s etc/stas/stacd.conf "$$conf"; then \
		echo "$$conf exists: kept; the shipped one is $$conf.new"; \
		$(INSTALL) -m 644 etc/stas/stacd.conf "$$conf.new"; \
	fi
	$(INSTALL) -m 644 etc/stas/sys.conf.doc $(DESTDIR)$(SYSCONFDIR)/stas/sys.conf.doc

# dbus-daemon re-reads its configuration as soon as a file appears in the
# directory (inotify): install writes the file 0600 and chmods it after,
# so a running bus would read it unreadable and not look again. A complete
# file is renamed into place instead.
install-dbus:
	$(INSTALL) -d $(DESTDIR)$(DBUSPOLICYDIR)
	$(INSTALL) -m 644 etc/dbus-1/system.d/org.nvmexpress.stac.conf \
		$(DESTDIR)$(DBUSPOLICYDIR)/org.nvmexpress.stac.conf.tmp
	mv -f $(DESTDIR)$(DBUSPOLICYDIR)/org.nvmexpress.stac.conf.tmp \
		$(DESTDIR)$(DBUSPOLICYDIR)/org.nvmexpress.stac.conf

# The unit names the binary by its installed path.
install-systemd:
	$(INSTALL) -d $(DESTDIR)$(UNITDIR)
	for f in etc/systemd/*.service; do \
		sed 's|^\(Exec[A-Za-z]*=[-@:+!]*\)/usr/sbin/stacd|\1$(SBINDIR)/stacd|' "$$f" \
			> $(DESTDIR)$(UNITDIR)/$${f##*/}.tmp && \
		chmod 644 $(DESTDIR)$(UNITDIR)/$${f##*/}.tmp && \
		mv $(DESTDIR)$(UNITDIR)/$${f##*/}.tmp $(DESTDIR)$(UNITDIR)/$${f##*/} || exit 1; \
	done

# Files keep their mode class: executable in the tree -> 755, else 644.
# install_tree SRC DST: every file under SRC, at the same relative path.
install_tree = cd $(1) && find . -type f | sort | while read -r f; do \
		if [ -x "$$f" ]; then mode=755; else mode=644; fi; \
		$(INSTALL) -D -m $$mode "$$f" "$(2)/$${f\#./}" || exit 1; \
	done

# dracut/NNname/ directories are modules (dracut.modules(7)); anything else
# in dracut/ (README, dracut.conf.d examples) is not.
install-dracut:
	@for d in dracut/[0-9][0-9]*/; do \
		[ -d "$$d" ] || continue; \
		mod=$${d%/}; mod=$${mod##*/}; \
		echo "install $$d -> $(DESTDIR)$(DRACUTMODDIR)/$$mod/"; \
		( $(call install_tree,$$d,$(abspath $(DESTDIR)$(DRACUTMODDIR))/$$mod) ) || exit 1; \
	done

# initramfs/hooks/*, initramfs/scripts/*/* and the like, at the same
# relative path under /usr/share/initramfs-tools (initramfs-tools(7)).
install-initramfs:
	@for d in initramfs/*/; do \
		[ -d "$$d" ] || continue; \
		sub=$${d%/}; sub=$${sub##*/}; \
		echo "install $$d -> $(DESTDIR)$(INITRAMFSDIR)/$$sub/"; \
		( $(call install_tree,$$d,$(abspath $(DESTDIR)$(INITRAMFSDIR))/$$sub) ) || exit 1; \
	done

install-man:
	for f in man/*.[1-8]; do \
		s=$${f##*.}; \
		$(INSTALL) -d $(DESTDIR)$(MANDIR)/man$$s && \
		$(INSTALL) -m 644 "$$f" $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; \
	done

install-doc:
	$(INSTALL) -d $(DESTDIR)$(DOCDIR)/docs
	$(INSTALL) -m 644 README.md $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/
	@for f in dracut/dracut.conf.d/*.conf; do \
		[ -f "$$f" ] || continue; \
		echo "$(INSTALL) -D -m 644 $$f $(DESTDIR)$(DOCDIR)/examples/dracut.conf.d/$${f##*/}"; \
		$(INSTALL) -D -m 644 "$$f" $(DESTDIR)$(DOCDIR)/examples/dracut.conf.d/$${f##*/} || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/stacd $(DESTDIR)$(BINDIR)/stacctl
	rm -f $(DESTDIR)$(SYSCONFDIR)/stas/sys.conf.doc $(DESTDIR)$(SYSCONFDIR)/stas/stacd.conf.new
	rm -f $(DESTDIR)$(DBUSPOLICYDIR)/org.nvmexpress.stac.conf
	for f in etc/systemd/*.service; do rm -f $(DESTDIR)$(UNITDIR)/$${f##*/}; done
	for d in dracut/[0-9][0-9]*/; do \
		[ -d "$$d" ] || continue; mod=$${d%/}; rm -rf $(DESTDIR)$(DRACUTMODDIR)/$${mod##*/}; \
	done
	cd initramfs 2>/dev/null && find . -mindepth 2 -type f | while read -r f; do \
		rm -f "$(abspath $(DESTDIR)$(INITRAMFSDIR))/$${f#./}"; done; true
	for f in man/*.[1-8]; do rm -f $(DESTDIR)$(MANDIR)/man$${f##*.}/$${f##*/}; done
	rm -rf $(DESTDIR)$(DOCDIR)
	@echo "$(DESTDIR)$(SYSCONFDIR)/stas/stacd.conf is left in place"
