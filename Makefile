# amux — build, test, check, benchmark and install.
#
# `make` builds the release binary (with DATADIR baked in, so the installed
# binary finds the installed preload) and the shell completions;
# `make test` installs the pinned test agents and runs every test;
# `make fuzz` runs every fuzz target (fuzz/) for FUZZ_SECONDS each;
# `make install` only copies what `make` built: it never runs cargo, so
# `sudo make install` after `make` builds nothing as root.

CARGO   ?= cargo
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR  ?= $(DATADIR)/man
DESTDIR ?=

BIN   = target/release/amux
COMPL = target/completions

.PHONY: all build completions test soak check fmt-check clippy bench fuzz install uninstall

all: build

build:
	AMUX_DATADIR=$(DATADIR) $(CARGO) build --release --locked
	$(MAKE) completions

completions:
	mkdir -p $(COMPL)
	$(BIN) completions bash > $(COMPL)/amux.bash
	$(BIN) completions zsh > $(COMPL)/_amux
	$(BIN) completions fish > $(COMPL)/amux.fish

test:
	./.ci/setup-tools
	./.ci/setup-agents
	$(CARGO) test --locked

# The churn oracle (tests/oracle/) for SOAK_SECONDS (default 30 min);
# SOAK_SEED, ORACLE_OPS and ORACLE_KEEP_GOING=1 pass through.
soak:
	./.ci/setup-agents
	SOAK_SECONDS=$${SOAK_SECONDS:-1800} $(CARGO) test --locked --release --test tests oracle:: -- --nocapture

fmt-check:
	$(CARGO) fmt --check

clippy:
	$(CARGO) clippy --locked --all-targets -- -D warnings

check: fmt-check clippy test

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
	install -Dm644 $(COMPL)/_amux $(DESTDIR)$(DATADIR)/zsh/site-functions/_amux
	install -Dm644 $(COMPL)/amux.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/amux.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/amux
	rm -f $(DESTDIR)$(DATADIR)/amux/hook.mjs $(DESTDIR)$(DATADIR)/amux/pi-extension.mjs
	-rmdir $(DESTDIR)$(DATADIR)/amux 2>/dev/null
	rm -f $(DESTDIR)$(MANDIR)/man1/amux.1 $(DESTDIR)$(MANDIR)/man7/amux-protocol.7
	rm -f $(DESTDIR)$(DATADIR)/bash-completion/completions/amux
	rm -f $(DESTDIR)$(DATADIR)/zsh/site-functions/_amux
	rm -f $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/amux.fish
