# Concierge: the two set-up commands are `make demo` and `make test`.
SWIFT ?= swift
PROPERTY_CASES ?= 300
SOAK_PROPERTY_CASES ?= 10000
KILL_ROUNDS ?= 20
SOAK_KILL_ROUNDS ?= 100

.PHONY: all build demo test soak bench-core bench-server bench-server-postgres bench-store bench-sync bench-intake bench-routing format-check deps clean

all: build

# Installs the system libraries the package needs (Debian/Ubuntu), or says how.
deps:
	@tools/scripts/ensure-deps.sh

build: deps
	$(SWIFT) build

# A real server on a free loopback port with demo data, and the real CLI as a customer's phone, an
# agent's desk, a supervisor's tablet and a technician's: offline edits, sync, both timelines.
demo: deps
	$(SWIFT) build --product concierge-server
	$(SWIFT) build --product concierge
	tools/scripts/demo.sh .build/debug

# The crash tests run the real concierge-server binary: build it first (the tests reuse the build).
# The PostgreSQL tests run against a throwaway cluster started (and removed) by with-postgres.sh.
test: deps
	$(SWIFT) build
	CONCIERGE_PROPERTY_CASES=$(PROPERTY_CASES) CONCIERGE_KILL_ROUNDS=$(KILL_ROUNDS) \
		tools/scripts/with-postgres.sh $(SWIFT) test --parallel

# The full counts the issues ask for, in two runs: the harness's in-process server must not share
# this 2-core machine's few concurrency threads with 10,000-case property tests.
soak: deps
	$(SWIFT) build
	CONCIERGE_PROPERTY_CASES=$(SOAK_PROPERTY_CASES) CONCIERGE_KILL_ROUNDS=$(SOAK_KILL_ROUNDS) \
		tools/scripts/with-postgres.sh $(SWIFT) test --parallel --skip HarnessTests > .build/soak.log 2>&1; status=$$?; \
		grep -E 'Test run with' .build/soak.log; [ $$status -eq 0 ] || exit $$status
	CONCIERGE_HARNESS_REPLICAS=20 CONCIERGE_HARNESS_EDITS=2000 CONCIERGE_HARNESS_SEEDS=20 \
		tools/scripts/with-postgres.sh $(SWIFT) test --filter HarnessTests > .build/soak-harness.log 2>&1; status=$$?; \
		grep -E '^harness|Test run with' .build/soak-harness.log; exit $$status

# Core benchmarks in release mode; the last line sums up.
bench-core: deps
	cd tools/benchmarks && $(SWIFT) run -c release --quiet core-bench

format-check:
	tools/scripts/format-check.sh

# Server load benchmark in release mode, load generators in processes of their own; the last line sums up.
bench-server: deps
	$(SWIFT) build -c release --product concierge-server
	cd tools/benchmarks && $(SWIFT) build -c release --product load-gen && $(SWIFT) build -c release --product server-bench && \
		CONCIERGE_SERVER_BINARY=$(CURDIR)/.build/release/concierge-server .build/release/server-bench

# The same benchmark on PostgreSQL (a throwaway cluster), with one instance and with two.
bench-server-postgres: deps
	$(SWIFT) build -c release --product concierge-server
	cd tools/benchmarks && $(SWIFT) build -c release --product load-gen && $(SWIFT) build -c release --product server-bench
	CONCIERGE_SERVER_BINARY=$(CURDIR)/.build/release/concierge-server \
		tools/scripts/with-postgres.sh tools/scripts/bench-postgres.sh tools/benchmarks/.build/release/server-bench

# Each engine's push path alone, in process (no HTTP, no load generators): what its one writer can
# take. SQLite, then PostgreSQL on a throwaway cluster; three runs each.
bench-store: deps
	cd tools/benchmarks && $(SWIFT) build -c release --product store-bench
	tools/scripts/with-postgres.sh tools/scripts/bench-store.sh tools/benchmarks/.build/release/store-bench

# First sync of 100,000 cases into a fresh replica file, end to end; the last line sums up.
bench-sync: deps
	$(SWIFT) build -c release --product concierge-server
	cd tools/benchmarks && $(SWIFT) build -c release --product sync-bench && \
		CONCIERGE_SERVER_BINARY=$(CURDIR)/.build/release/concierge-server .build/release/sync-bench

# Contacts taken in per second through the integration API on SQLite, matched by phone and e-mail
# against 100,000 customers; the last line sums up.
bench-intake: deps
	$(SWIFT) build -c release --product concierge-server
	cd tools/benchmarks && $(SWIFT) build -c release --product intake-bench && \
		CONCIERGE_SERVER_BINARY=$(CURDIR)/.build/release/concierge-server .build/release/intake-bench

bench-routing: deps
	cd tools/benchmarks && $(SWIFT) build -c release --product routing-bench && .build/release/routing-bench

clean:
	rm -rf .build tools/benchmarks/.build
