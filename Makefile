# amux — build, test and check. `make` builds the release binary;
# `make test` installs the pinned test agents and runs every test.

CARGO ?= cargo

.PHONY: all build test check fmt-check clippy bench

all: build

build:
	$(CARGO) build --release --locked

test:
	./.ci/setup-agents
	$(CARGO) test --locked

fmt-check:
	$(CARGO) fmt --check

clippy:
	$(CARGO) clippy --locked --all-targets -- -D warnings

check: fmt-check clippy test

# Benchmarks live in scripts/bench.sh once written.
bench: build
	@if [ -x scripts/bench.sh ]; then scripts/bench.sh; \
	elif [ -f scripts/bench.sh ]; then sh scripts/bench.sh; \
	else echo "bench: no scripts/bench.sh yet"; fi
