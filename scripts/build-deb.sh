#!/usr/bin/env bash
# Builds the Debian packages (packaging/CMakeLists.txt: CPack's DEB
# generator) in BUILD_DEB, configured for /usr, /etc/wardsync and
# /lib/systemd/system, and checks them with lintian when it is installed
# (errors fail, warnings are shown). Prints the packages' paths.
# Usage: scripts/build-deb.sh [BUILD_DEB] [CMAKE_FLAGS...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build-deb}
shift || true
cd "$top"
mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_INSTALL_PREFIX=/usr -DWS_CONFIG_DIR=/etc/wardsync \
  -DWS_SYSTEMD_UNIT_DIR=/lib/systemd/system \
  -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON "$@" >"$build/configure.log" ||
  { cat "$build/configure.log" >&2; exit 1; }
# Only what the packages hold: the programs, their man pages, the docs.
cmake --build "$build" -j2 --target district-hub ward-agent city-pull wardsync-mo man deb_docs
rm -f "$build"/packages/*.deb
(cd "$build" && cpack -G DEB >cpack.log 2>&1) ||
  { cat "$build/cpack.log" >&2; exit 1; }
debs=("$build"/packages/*.deb)
if command -v lintian >/dev/null; then
  # initial-upload-closes-no-bugs (a warning): not uploaded to Debian.
  lintian --fail-on error --suppress-tags \
    initial-upload-closes-no-bugs \
    "${debs[@]}"
  echo "build-deb: lintian: no errors"
else
  echo "build-deb: lintian not installed, packages not checked" >&2
fi
printf '%s\n' "${debs[@]}"
