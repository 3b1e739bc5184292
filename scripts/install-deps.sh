#!/usr/bin/env bash
# Installs the Debian packages a group of wardsync's verbs needs that are
# not installed yet. Run as root on Debian 12 (bookworm); as another user
# it only names the missing ones (exit 1), so a contributor with the build
# group present builds without root.
# Usage: scripts/install-deps.sh [--for build|test|demo] [--check]
#   build  what "make" needs to configure and build (the default)
#   test   build, plus what "make test" runs: PostgreSQL, valgrind, clang
#          (libFuzzer), Chromium, docker-compose, nftables, lintian ...
#   demo   build, plus what "make demo" runs (PostgreSQL)
set -euo pipefail

group=build check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --for) group=${2:-}; shift 2 ;;
    --check) check=1; shift ;;
    *) echo "install-deps: unknown argument \"$1\"" >&2; exit 2 ;;
  esac
done

build=(
  build-essential cmake pkg-config          # build
  libzmq3-dev                               # transport, CURVE
  libprotobuf-c-dev protobuf-c-compiler     # wire format
  libpq-dev                                 # hub storage (client library)
  libsqlite3-dev                            # ward outbox
  libinih-dev                               # INI configuration
  libcsv-dev                                # RFC 4180 CSV import
  gettext libunistring-dev                  # messages in Vietnamese, NFC/case folding
  libzip-dev libexpat1-dev                  # .xlsx import (zip container, sheet XML)
  libjansson-dev                            # JSON output
  libsystemd-dev                            # sd_notify: the hub's readiness, watchdog
  libmicrohttpd-dev                         # hub metrics endpoint (HTTP)
  libcmocka-dev                             # tests (built with everything)
  libglpk-dev                               # publication-rule auditor (tests/audit)
  help2man                                  # man pages from --help
  git                                       # the version (git describe)
)
# What running the programs locally needs: a PostgreSQL for the hub.
run=(
  postgresql postgresql-client              # hub storage
  util-linux procps                         # runuser, pkill, unshare in scripts
)
test=(
  valgrind                                  # leak check of the unit suite
  clang libclang-rt-14-dev                  # libFuzzer targets (make fuzz)
  clang-format                              # format check (.ci/run)
  docker-compose                            # checks docker-compose.yml (config only)
  prometheus                                # promtool: lints the metrics text (tests)
  iproute2 nftables                         # fault suite: namespaces, packet loss
  chromium fonts-noto-core python3          # report test: headless browser, Vietnamese glyphs
  lintian fakeroot dpkg-dev                 # make deb and its test: lintian, dpkg-shlibdeps
  systemd                                   # systemd-analyze verify/security on the units
)

case "$group" in
  build) packages=("${build[@]}") ;;
  demo) packages=("${build[@]}" "${run[@]}" python3) ;;
  test) packages=("${build[@]}" "${run[@]}" "${test[@]}") ;;
  *) echo "install-deps: unknown group \"$group\" (want build, test or demo)" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: $group: all ${#packages[@]} packages present"
  exit 0
fi
if [ "$check" = 1 ]; then
  echo "install-deps: $group: missing: ${missing[*]}" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: $group: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: $group: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
