# amux — build, test, check, benchmark and install.
#
# `make` builds the release binary (with DATADIR baked in, so the installed
# binary finds the installed preload), the shell completions and the
# systemd user service (with BINDIR in its ExecStart);
# `make test` installs the pinned test agents and runs every test;
# `make fuzz` runs every fuzz target (fuzz/) for FUZZ_SECONDS each, and
# `make check` builds them (with stable cargo, no fuzzing);
# `make install` only copies what `make` built: it never runs cargo, so
# `sudo make install` after `make` builds nothing as root.
# `make dist` writes the source tarball, crates vendored (its build needs
# no network); `make deb` builds the Debian package from that tree.

CARGO   ?= cargo
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR  ?= $(DATADIR)/man
SYSTEMDUSERUNITDIR ?= $(PREFIX)/lib/systemd/user
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
DESTDIR ?=
# Extra cargo flags (debian/rules passes --offline).
CARGOFLAGS ?=

BIN   = target/release/amux
COMPL = target/completions

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
DISTDIR = target/dist
DIST    = $(DISTDIR)/amux-$(VERSION)

.PHONY: all build completions test soak oracle accuracy playground check fmt-check clippy fuzz-check bench fuzz install uninstall dist dist-tree deb

all: build

build:
	AMUX_DATADIR=$(DATADIR) $(CARGO) build --release --locked $(CARGOFLAGS)
	$(MAKE) completions

completions:
	mkdir -p $(COMPL)
	$(BIN) completions bash > $(COMPL)/amux.bash
	$(BIN) completions zsh > $(COMPL)/_amux
	$(BIN) completions fish > $(COMPL)/amux.fish
	sed 's|@BINDIR@|$(BINDIR)|' systemd/amux.service.in > $(COMPL)/amux.service
	sed 's|@BINDIR@|$(BINDIR)|' systemd/amux-notify.service.in > $(COMPL)/amux-notify.service

test:
	./.ci/setup-tools
	./.ci/setup-agents
	$(CARGO) test --locked

# The churn oracle (tests/oracle/) for SOAK_SECONDS (default 30 min);
# SOAK_SEED, ORACLE_OPS and ORACLE_KEEP_GOING=1 pass through.
soak:
	./.ci/setup-agents
	SOAK_SECONDS=$${SOAK_SECONDS:-1800} $(CARGO) test --locked --release --test tests oracle:: -- --nocapture

# The churn oracle in process: 100,000 operations straight into the
# daemon's core with virtual time (src/daemon/core/oracle.rs); ORACLE_OPS
# and ORACLE_SEED pass through.
oracle:
	AMUX_ORACLE_OPS=$${ORACLE_OPS:-100000} AMUX_ORACLE_SEED=$${ORACLE_SEED:-20261206} \
		$(CARGO) test --locked --release --lib daemon::core::oracle -- --nocapture

# The accuracy matrix (tests/accuracy/): each moment of the real agents'
# lives against the fake servers, and what `amux events` said of it. Each
# agent's test fails on a wrong cell; the table is printed (and written to
# target/accuracy.json) whatever they said, and the target fails if any did.
ACCURACY = $(CARGO) test --locked --release --test tests
accuracy:
	./.ci/setup-agents
	rm -rf target/accuracy target/accuracy.json
	$(ACCURACY) accuracy:: -- --ignored --nocapture --test-threads=1 --skip accuracy::report; \
		status=$$?; \
		$(ACCURACY) accuracy::report::table -- --ignored --nocapture --exact; \
		exit $$status

# Fake model servers and agent configs for trying amux by hand: prints
# `. DIR/env.sh`; `touch DIR/stop` ends it.
playground:
	./.ci/setup-agents
	AMUX_PLAYGROUND=$${AMUX_PLAYGROUND:-/tmp/amux-playground} $(CARGO) test --locked --test tests playground:: -- --ignored --nocapture

fmt-check:
	$(CARGO) fmt --check

clippy:
	$(CARGO) clippy --locked --all-targets -- -D warnings

# The fuzz targets are their own workspace (fuzz/Cargo.toml, with its own
# Cargo.lock) linking the amux library, so the main crate's clippy never
# sees them: this lints and type-checks them on the stable toolchain.
# libfuzzer-sys's build script compiles libFuzzer with the C++ compiler
# (c++) and needs no nightly; only running the targets takes the
# sanitizer flags (`make fuzz`).
fuzz-check:
	cd fuzz && $(CARGO) fmt --check
	cd fuzz && $(CARGO) clippy --locked --bins -- -D warnings

check: fmt-check clippy fuzz-check test

bench: build
	./.ci/setup-agents
	./scripts/bench.sh

# Every target `cargo fuzz list` names, FUZZ_SECONDS each (default 60),
# from corpora that fuzz/seed starts with real inputs; the first crash stops
# the run (its input is in fuzz/artifacts/). cargo-fuzz comes from crates.io
# when missing; RUSTC_BOOTSTRAP lets the stable toolchain take the
# sanitizer flags it passes.
FUZZ_SECONDS ?= 60

fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz
	./fuzz/seed
	for t in $$(RUSTC_BOOTSTRAP=1 $(CARGO) fuzz list); do \
		echo "fuzz: $$t, $(FUZZ_SECONDS) s"; \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

install:
	@test -x $(BIN) || { echo "make install: run 'make' first ($(BIN) is missing)" >&2; exit 1; }
	install -Dm755 $(BIN) $(DESTDIR)$(BINDIR)/amux
	install -Dm644 hook/hook.mjs $(DESTDIR)$(DATADIR)/amux/hook.mjs
	install -Dm644 hook/pi-extension.mjs $(DESTDIR)$(DATADIR)/amux/pi-extension.mjs
	install -Dm644 man/amux.1 $(DESTDIR)$(MANDIR)/man1/amux.1
	install -Dm644 man/amux-protocol.7 $(DESTDIR)$(MANDIR)/man7/amux-protocol.7
	install -Dm644 $(COMPL)/amux.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/amux
	install -Dm644 $(COMPL)/_amux $(DESTDIR)$(ZSHCOMPDIR)/_amux
	install -Dm644 $(COMPL)/amux.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/amux.fish
	install -Dm644 systemd/amux.socket $(DESTDIR)$(SYSTEMDUSERUNITDIR)/amux.socket
	install -Dm644 $(COMPL)/amux.service $(DESTDIR)$(SYSTEMDUSERUNITDIR)/amux.service
	install -Dm644 $(COMPL)/amux-notify.service $(DESTDIR)$(SYSTEMDUSERUNITDIR)/amux-notify.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/amux
	rm -f $(DESTDIR)$(DATADIR)/amux/hook.mjs $(DESTDIR)$(DATADIR)/amux/pi-extension.mjs
	-rmdir $(DESTDIR)$(DATADIR)/amux 2>/dev/null
	rm -f $(DESTDIR)$(MANDIR)/man1/amux.1 $(DESTDIR)$(MANDIR)/man7/amux-protocol.7
	rm -f $(DESTDIR)$(DATADIR)/bash-completion/completions/amux
	rm -f $(DESTDIR)$(ZSHCOMPDIR)/_amux
	rm -f $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/amux.fish
	rm -f $(DESTDIR)$(SYSTEMDUSERUNITDIR)/amux.socket $(DESTDIR)$(SYSTEMDUSERUNITDIR)/amux.service $(DESTDIR)$(SYSTEMDUSERUNITDIR)/amux-notify.service

# The source tree of a release: the checkout's files (tracked, and new ones
# not ignored, so a working tree can be packaged before it is committed),
# every crate of Cargo.lock in vendor/ and the source replacement that
# builds from it in .cargo/config.toml. `cargo vendor` is the one step that
# may use the network (or cargo's download cache).
dist-tree:
	rm -rf $(DIST)
	mkdir -p $(DIST)/.cargo
	git ls-files -z --cached --others --exclude-standard | \
		xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh | \
		tar --null -T - -cf - | tar -xf - -C $(DIST)
	cd $(DIST) && $(CARGO) vendor --locked vendor > .cargo/config.toml

dist: dist-tree
	tar -C $(DISTDIR) -cJf $(DIST).tar.xz amux-$(VERSION)
	@echo $(DIST).tar.xz

# dpkg-buildpackage writes the .deb beside the tree, in $(DISTDIR). Debian's
# rustc (trixie and later) meets the Build-Depends; with another toolchain
# on PATH (rustup) the pkg.amux.rustup profile drops them.
# DPKG_BUILDPACKAGE may wrap it (the test runs it under `unshare -n`, no
# network at all).
DPKG_BUILDPACKAGE ?= dpkg-buildpackage
DEB_PROFILES = $(if $(filter /usr/bin/rustc,$(shell command -v rustc)),,pkg.amux.rustup)

# In the unpacked `make dist` tarball (crates in vendor/, no git) the tree
# already is the release: it is built as it is, offline, and the .deb lands
# beside it. In a checkout the release tree is made first.
ifeq ($(wildcard .git)$(wildcard vendor/.),vendor/.)
deb:
	DEB_BUILD_PROFILES="$(DEB_PROFILES)" $(DPKG_BUILDPACKAGE) -us -uc -b
	@ls ../amux_$(VERSION)_*.deb
else
deb: dist-tree
	cd $(DIST) && DEB_BUILD_PROFILES="$(DEB_PROFILES)" $(DPKG_BUILDPACKAGE) -us -uc -b
	@ls $(DISTDIR)/amux_$(VERSION)_*.deb
endif
