# Everyday verbs. Each target installs the missing Debian packages of its
# group first (scripts/install-deps.sh --for build|test|demo; a no-op when
# all are present, a message naming them when not root): "make" needs only
# what building needs.
BUILD ?= build
CMAKE_FLAGS ?=
ifdef CI
CMAKE_FLAGS += -DWARDSYNC_WERROR=ON
endif

.PHONY: all deps test-deps demo-deps build test demo bench install deb clean format format-check help fuzz chaos audit recount

all: build

help:
	@echo "make          build everything into $(BUILD)/"
	@echo "make test     install deps, build, start a private PostgreSQL, run every test"
	@echo "make demo     install deps, build, run hub + 15 agents on seed data, print indicators"
	@echo "make fuzz     run every libFuzzer target FUZZ_SECONDS (default 60) each"
	@echo "make chaos    the fault suite (kill -9, PostgreSQL crashes, replays), long version"
	@echo "make audit    the publication-rule auditor on AUDIT_COUNT (default 5000) random districts"
	@echo "make recount the independent recount of every indicator (RECOUNT_SEEDS generated districts)"
	@echo "make bench    ingest benchmark (vs bare COPY), indicators at 10 million ballot ratings, petitions pull at 200,000"
	@echo "make install  install under PREFIX (default /usr/local), into DESTDIR if set"
	@echo "make deb      Debian packages into $(BUILD_DEB)/packages (wardsync-hub, -agent, -city-pull, -common)"
	@echo "make clean    remove $(BUILD)/ and var/"

deps:
	@scripts/install-deps.sh --for build

test-deps:
	@scripts/install-deps.sh --for test

demo-deps:
	@scripts/install-deps.sh --for demo

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j2

test: test-deps build
	scripts/run-tests.sh $(BUILD)

# libFuzzer targets of tests/fuzz, built by clang into build-fuzz/, each run
# for FUZZ_SECONDS (make fuzz FUZZ_SECONDS=600).
FUZZ_SECONDS ?= 60
fuzz: test-deps
	scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

# The fault suite, long version (the short one runs in make test).
chaos: test-deps build
	tests/chaos/run.sh --build $(BUILD)

# The publication-rule auditor, long version (a few hundred districts run
# in make test): AUDIT_COUNT random districts, at most AUDIT_SECONDS.
AUDIT_COUNT ?= 5000
AUDIT_SECONDS ?= 3600
# The independent recount of every indicator from the input files, on
# RECOUNT_SEEDS generated districts (tests/recount/README.md).
RECOUNT_SEEDS ?= 50
recount: test-deps build
	tests/recount/run.sh --build $(BUILD) --count $(RECOUNT_SEEDS)

audit: test-deps build
	WARDSYNC_AUDIT_COUNT=$(AUDIT_COUNT) WARDSYNC_AUDIT_SECONDS=$(AUDIT_SECONDS) \
	  scripts/audit.sh $(BUILD)

demo: demo-deps build
	scripts/demo.sh $(BUILD)

# BENCH_EVENTS: events per agent outbox for the ingest benchmark;
# BENCH_QUEUED: events queued in one more outbox, to measure peak RSS with a
# deep queue (0 skips it).
BENCH_EVENTS ?= 100000
BENCH_QUEUED ?= 1000000
bench: test-deps build
	bench/ingest/run.sh --build $(BUILD) --events $(BENCH_EVENTS) --queued $(BENCH_QUEUED)
	bench/indicators $(BUILD)
	bench/petitions $(BUILD)

# The usual conventions: PREFIX (default /usr/local) is where the
# programs will live and find their data (share/wardsync beside bin/);
# DESTDIR, when set, is a staging root prepended to every path.
PREFIX ?= /usr/local
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix $(PREFIX)

# Debian packages (CPack's DEB generator, packaging/CMakeLists.txt), built
# in their own tree configured for /usr, /etc and /lib/systemd/system.
BUILD_DEB ?= build-deb
deb: deps
	scripts/build-deb.sh $(BUILD_DEB) $(CMAKE_FLAGS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	-scripts/pg.sh stop
	rm -rf $(BUILD) var
