#!/usr/bin/env bash
# Checks docker-compose.yml and the Dockerfile without a Docker engine
# (none runs on the build machines): what can be checked here, is.
#   - docker-compose config accepts the file, with the city profile too;
#   - it holds no default password: without WARDSYNC_DB_PASSWORD it refuses;
#   - .env and var/ (passwords) stay out of the image's build context;
#   - every folder a service mounts a volume on is created and owned by
#     the service user in the Dockerfile (a fresh volume takes that owner);
#   - every shared library the programs link is a package the runtime
#     stage installs;
#   - "cmake --install" into a scratch prefix gives every path of the
#     layout the Dockerfile states, and each program compose runs.
# Not checked (needs Docker): the image build itself, the healthchecks
# running, the services reaching one another.
# Usage: tests/docker/check.sh BUILD_DIR
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: check.sh BUILD_DIR}" && pwd)
compose="$top/docker-compose.yml"
dockerfile="$top/Dockerfile"
fail() { echo "docker check: $*" >&2; exit 1; }

command -v docker-compose >/dev/null || fail "docker-compose not installed"
empty=$(mktemp)
scratch=$(mktemp -d)
trap 'rm -rf "$empty" "$scratch"' EXIT
# An empty env file: a developer's own .env must not make this pass.
dc() { docker-compose --env-file "$empty" -f "$compose" "$@"; }

WARDSYNC_DB_PASSWORD=config-check dc config -q ||
  fail "docker-compose config refused $compose"
WARDSYNC_DB_PASSWORD=config-check dc --profile city config -q ||
  fail "docker-compose config --profile city refused $compose"
if out=$(env -u WARDSYNC_DB_PASSWORD docker-compose --env-file "$empty" \
    -f "$compose" config -q 2>&1); then
  fail "$compose has a default password: config passed without WARDSYNC_DB_PASSWORD"
fi
grep -q WARDSYNC_DB_PASSWORD <<<"$out" ||
  fail "without a password, docker-compose config did not name WARDSYNC_DB_PASSWORD: $out"
docker-compose --env-file "$top/.env.example" -f "$compose" config -q \
  2>/dev/null && fail ".env.example holds a password: it must be filled in"
echo "docker-compose config: ok (no default password)"
# Secrets and local state stay out of the build context (COPY . .).
for pattern in .env var; do
  grep -qx "$pattern" "$top/.dockerignore" ||
    fail ".dockerignore does not exclude $pattern: COPY . . would send it to the build"
done

# Volume targets the image must create and own.
config=$(WARDSYNC_DB_PASSWORD=config-check dc --profile city config)
targets=$(sed -n 's/^ *- \([a-z0-9-]*\):\(\/[^:]*\)\(:r[ow]\)\?$/\1 \2/p' <<<"$config" |
  awk '$1 != "postgres-data" {print $2}' | sort -u)
[ -n "$targets" ] || fail "no volumes found in $compose"
owned=$(sed -n '/install -d -o wardsync/,/ldconfig/p' "$dockerfile")
for t in $targets; do
  grep -Eq "(^|[[:space:]])$t([[:space:]]|$)" <<<"$owned" ||
    fail "volume target $t is not created by 'install -d -o wardsync' in $dockerfile"
done
echo "volume folders owned by the service user: $(tr '\n' ' ' <<<"$targets")"

# Shared libraries: each direct dependency's package is installed.
runtime=$(sed -n '/^FROM debian:12$/,$p' "$dockerfile")
for prog in district-hub/district-hub ward-agent/ward-agent city-pull/city-pull tools/seedgen; do
  [ -x "$build/$prog" ] || fail "$build/$prog not built"
  for lib in $(readelf -d "$build/$prog" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case "$lib" in libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*) continue ;; esac
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !p {print $NF; p = 1}')
    [ -n "$path" ] || fail "$lib (needed by $prog) not found by ldconfig"
    pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n1 | cut -d: -f1) ||
      true
    [ -n "$pkg" ] || pkg=$(dpkg -S "$path" | head -n1 | cut -d: -f1)
    grep -Eq "(^|[[:space:]])$pkg([[:space:]]|$)" <<<"$runtime" ||
      fail "$prog needs $lib from package $pkg, which the runtime stage of $dockerfile does not install"
  done
done
echo "runtime libraries: every package installed"

# The installed layout the Dockerfile states, and what compose runs.
DESTDIR="$scratch" cmake --install "$build" --prefix /usr/local >/dev/null
root="$scratch/usr/local"
layout=$(sed -n '/^# Installed layout/,/^# The source tree/p' "$dockerfile" |
  sed -n 's/^#   \(\/usr\/local[^ ]*\).*/\1/p')
[ -n "$layout" ] || fail "no installed layout stated in $dockerfile"
for spec in $layout; do
  # Expand "dir/{a,b}" and "dir/NNN_*.sql" as the shell would.
  found=0
  for p in $(eval "echo $scratch${spec}"); do
    [ -e "$p" ] && found=1 || fail "$dockerfile says ${p#"$scratch"}, cmake --install has no such file"
  done
  [ "$found" = 1 ] || fail "$dockerfile says $spec, cmake --install has none"
done
for prog in $(sed -n 's/^ *command: \["\([a-z-]*\)".*/\1/p' "$compose" | sort -u) \
            district-hub ward-agent; do
  [ -x "$root/bin/$prog" ] || fail "$compose runs $prog, which cmake --install does not install"
done
echo "installed layout: as the Dockerfile says"
