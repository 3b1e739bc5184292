# Everyday verbs. Each target installs missing Debian packages first
# (scripts/install-deps.sh; a no-op when all are present).
BUILD ?= build
CMAKE_FLAGS ?=
ifdef CI
CMAKE_FLAGS += -DWARDSYNC_WERROR=ON
endif

.PHONY: all deps build test demo install clean format format-check help

all: build

help:
	@echo "make          build everything into $(BUILD)/"
	@echo "make test     install deps, build, start a private PostgreSQL, run every test"
	@echo "make demo     install deps, build, run hub + 15 agents on seed data, print indicators"
	@echo "make install  install programs under PREFIX (default /usr/local)"
	@echo "make clean    remove $(BUILD)/ and var/"

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j2

test: build
	scripts/run-tests.sh $(BUILD)

demo: build
	scripts/demo.sh $(BUILD)

PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	-scripts/pg.sh stop
	rm -rf $(BUILD) var
