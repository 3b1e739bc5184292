#!/usr/bin/env bash
# Installs the Debian packages wardsync needs that are not installed yet.
# Run as root on Debian 12 (bookworm); as another user it only reports.
# Usage: scripts/install-deps.sh [--check]
set -euo pipefail

packages=(
  build-essential cmake pkg-config          # build
  libzmq3-dev                               # transport, CURVE
  libprotobuf-c-dev protobuf-c-compiler     # wire format
  libpq-dev postgresql postgresql-client    # hub storage
  libsqlite3-dev                            # ward outbox
  libinih-dev                               # INI configuration
  libcsv-dev                                # RFC 4180 CSV import
  gettext libunistring-dev                  # messages in Vietnamese, NFC/case folding
  libzip-dev libexpat1-dev                  # .xlsx import (zip container, sheet XML)
  libjansson-dev                            # JSON output
  libcmocka-dev                             # tests
  libglpk-dev                               # publication-rule auditor (tests/audit)
  valgrind                                  # leak check of the unit suite
  clang libclang-rt-14-dev                  # libFuzzer targets (make fuzz)
  docker-compose                            # checks docker-compose.yml (config only)
  util-linux procps                         # runuser, pkill in scripts
  iproute2 nftables                         # fault suite: namespaces, packet loss
  chromium fonts-noto-core python3          # report test: headless browser, Vietnamese glyphs
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "install-deps: missing: ${missing[*]}" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
