#!/usr/bin/env bash
# The install as a district's IT officer gets it, with the source tree out
# of reach:
#   tree  "make install" (cmake --install with DESTDIR and a prefix) into a
#         scratch folder, the prefix then moved somewhere else;
#   deb   "make deb" (lintian without errors), each package unpacked into a
#         scratch root with dpkg -x;
# then, with the source and build trees hidden under an empty tmpfs (a
# private mount namespace, as root) and no WARDSYNC_DATA_DIR: --version
# of every program names the installed data folder, "district-hub migrate"
# with the installed example hub.conf migrates a fresh database from the
# installed migrations, an unknown key in that file is refused naming file
# and line, "ward-agent import" checks a file against the installed
# catalogue, and each example configuration with every commented-out key
# set to its documented value is accepted. Before that, each example's keys
# must be exactly the list its program checks files against, each once.
# For deb, the units are also checked: systemd-analyze verify,
# and systemd-analyze security --offline with an exposure of at most
# WARDSYNC_UNIT_EXPOSURE_MAX (default 2.0); and, as root, the packages
# are installed with dpkg -i and purged again (WARDSYNC_TEST_DPKG=0 skips
# it), so that their maintainer scripts run.
#
# Usage: tests/install/run.sh tree|deb BUILD_DIR
# Needs WARDSYNC_TEST_DATABASE (scripts/run-tests.sh); root for the hidden
# tree (without it the test says so and runs with the tree in place).
set -euo pipefail
mode=$1
build=$(cd "$2" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
: "${WARDSYNC_TEST_DATABASE:?run through scripts/run-tests.sh}"
psql_bin=$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)
scratch=$(mktemp -d /tmp/wardsync-install-XXXXXX)
db="wardsync_it_install_${mode}_$$"
admin=$(printf '%s' "$WARDSYNC_TEST_DATABASE" | sed 's/dbname=[^ ]*/dbname=postgres/')
conninfo=$(printf '%s' "$WARDSYNC_TEST_DATABASE" | sed "s/dbname=[^ ]*/dbname=$db/")
cleanup() {
  "$psql_bin" "$admin" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT

case "$mode" in
tree)
  # make install's conventions: DESTDIR stages, PREFIX is where it will
  # live; then the prefix is moved (a relocated install must still work).
  DESTDIR="$scratch/stage" cmake --install "$build" --prefix /opt/wardsync >"$scratch/install.log"
  [ -x "$scratch/stage/opt/wardsync/bin/district-hub" ] ||
    { echo "install: no bin/district-hub under DESTDIR/PREFIX" >&2; exit 1; }
  # The units name the prefix installed to, not the configured one.
  grep -qx "ExecStart=/opt/wardsync/bin/district-hub -c /opt/wardsync/etc/wardsync/hub.conf run" \
    "$scratch/stage/opt/wardsync/lib/systemd/system/wardsync-hub.service" ||
    { echo "install: the hub's unit does not start /opt/wardsync/bin/district-hub:" >&2
      grep ExecStart "$scratch/stage/opt/wardsync/lib/systemd/system/wardsync-hub.service" >&2; exit 1; }
  mv "$scratch/stage/opt/wardsync" "$scratch/moved"
  root="$scratch/moved" bin="$root/bin" etc="$root/etc/wardsync"
  data="$root/share/wardsync"
  ;;
deb)
  "$top/scripts/build-deb.sh" "$build/deb-tree" >"$scratch/build-deb.log" 2>&1 ||
    { tail -n 40 "$scratch/build-deb.log" >&2; exit 1; }
  grep -q "lintian: no errors" "$scratch/build-deb.log" ||
    { echo "install: lintian did not run" >&2; exit 1; }
  root="$scratch/root"
  for deb in "$build"/deb-tree/packages/*.deb; do dpkg -x "$deb" "$root"; done
  bin="$root/usr/bin" etc="$root/etc/wardsync" data="$root/usr/share/wardsync"
  for page in district-hub ward-agent city-pull; do
    [ -s "$root/usr/share/man/man1/$page.1.gz" ] ||
      { echo "install: no man page $page(1) in the packages" >&2; exit 1; }
  done
  # The units, as installed, checked as files: verify wants the programs
  # they start where ExecStart= says, so the copies point into the
  # scratch root (a --root of their own would lack the system's targets).
  units="$root/lib/systemd/system" checked="$scratch/units"
  mkdir -p "$checked"
  for u in wardsync-hub.service wardsync-agent.service wardsync-city-pull.service wardsync-city-pull.timer; do
    [ -f "$units/$u" ] || { echo "install: unit $u not in the packages" >&2; exit 1; }
    grep -q "^ExecStart=/usr/bin/\|^\[Timer\]" "$units/$u" ||
      { echo "install: $u does not start /usr/bin/..." >&2; exit 1; }
    sed "s#^ExecStart=/usr/bin/#ExecStart=$root/usr/bin/#" "$units/$u" >"$checked/$u"
  done
  # verify exits 0 on an unknown or misspelt directive, only warning: any
  # word from it fails the test.
  out=$(cd "$checked" && systemd-analyze verify --man=no ./wardsync-*.service ./wardsync-*.timer 2>&1) &&
    [ -z "$out" ] || { echo "$out" >&2; echo "install: systemd-analyze verify failed" >&2; exit 1; }
  echo "install: systemd-analyze verify: ok"
  # The exposure score (0 best, 10 worst), at most WARDSYNC_UNIT_EXPOSURE_MAX.
  max=${WARDSYNC_UNIT_EXPOSURE_MAX:-2.0}
  for u in wardsync-hub.service wardsync-agent.service wardsync-city-pull.service; do
    out=$(cd "$checked" && systemd-analyze security --offline=yes "./$u" 2>&1) ||
      { echo "$out" >&2; exit 1; }
    score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    [ -n "$score" ] && awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }' ||
      { echo "$out" >&2; echo "install: $u: exposure ${score:-?} above $max" >&2; exit 1; }
    echo "install: $u: exposure $score (at most $max)"
  done
  ;;
*) echo "usage: $0 tree|deb BUILD_DIR" >&2; exit 2 ;;
esac

# Every key documented once: the keys of each installed example (set or
# commented out, "key = value" or ";key = value") are exactly the list its
# program checks files against, none twice.
documented() { # CONF: its keys, one a line
  sed -n 's/^;\{0,1\}\([a-z_][a-z0-9_]*\) =.*/\1/p' "$1"
}
known() { # SOURCE ARRAY: the strings of "ARRAY[] = { ... NULL};"
  awk -v a="$2" '$0 ~ a"\\[\\] = \\{" { on = 1 } on { print } on && /NULL}/ { exit }' "$1" |
    grep -o '"[a-z_0-9]*"' | tr -d '"'
}
for check in "hub.conf district-hub/settings.c hub_keys" \
             "agent.conf ward-agent/settings.c agent_keys" \
             "city-pull.conf city-pull/main.c city_keys"; do
  set -- $check
  dup=$(documented "$etc/$1" | sort | uniq -d)
  [ -z "$dup" ] || { echo "install: $1 documents twice: $dup" >&2; exit 1; }
  diff <(documented "$etc/$1" | sort) <(known "$top/$2" "$3" | sort) >"$scratch/keys.diff" ||
    { echo "install: $1 (<) and the keys $2 knows (>) differ:" >&2; cat "$scratch/keys.diff" >&2; exit 1; }
done
echo "install: every key of hub.conf, agent.conf and city-pull.conf documented once"

"$psql_bin" "$admin" -qc "CREATE DATABASE $db"
cp "${WARDSYNC_TEST_HUB_PASSWORD_FILE:?}" "$scratch/hub.password"
cp "$top/ward-agent/testdata/ballots-good.csv" "$scratch/ballots.csv"
# The installed example, with this test's database and the password file
# (secrets as files beside it, never in it), and one with a misspelt key.
sed -e "s#^database = .*#database = $conninfo#" \
    -e "s#^;hub_role_password_file = .*#hub_role_password_file = $scratch/hub.password#" \
    "$etc/hub.conf" >"$scratch/hub.conf"
grep -q "^hub_role_password_file = $scratch" "$scratch/hub.conf" ||
  { echo "install: hub.conf has no hub_role_password_file to set" >&2; exit 1; }
{ cat "$etc/hub.conf"; echo "databse = typo"; } >"$scratch/typo.conf"
# Every example with each commented-out key set to its documented value:
# each value the comments give must be one the program takes.
for conf in hub agent city-pull; do
  sed 's/^;\([a-z_][a-z0-9_]*\) =/\1 =/' "$etc/$conf.conf" >"$scratch/all-$conf.conf"
done
cp "${WARDSYNC_TEST_CITY_PASSWORD_FILE:-$WARDSYNC_TEST_HUB_PASSWORD_FILE}" "$scratch/city.password"
typo_line=$(wc -l <"$scratch/typo.conf")

cat >"$scratch/checks.sh" <<CHECKS
#!/usr/bin/env bash
set -euo pipefail
unset WARDSYNC_DATA_DIR WARDSYNC_CATALOGUE WARDSYNC_HUB_SQL_DIR WARDSYNC_HUB_ORG_UNITS
cd /
for p in district-hub ward-agent city-pull; do
  v=\$("$bin/\$p" --version)
  printf '%s\n' "\$v" | head -n 1 | grep -Eq "^\$p \(wardsync\) [0-9]+\.[0-9]+" ||
    { echo "install: \$p --version: \$v" >&2; exit 1; }
  printf '%s\n' "\$v" | grep -qx "data: \$(realpath "$data")" ||
    { echo "install: \$p finds its data elsewhere: \$v" >&2; exit 1; }
done
"$bin/district-hub" -c "$scratch/hub.conf" migrate >"$scratch/migrate.log" 2>&1 ||
  { cat "$scratch/migrate.log" >&2; exit 1; }
grep -q "sql_dir\|schema" "$scratch/migrate.log"
rc=0; "$bin/district-hub" -c "$scratch/typo.conf" migrate >"$scratch/typo.log" 2>&1 || rc=\$?
[ "\$rc" = 1 ] && grep -qF "$scratch/typo.conf:$typo_line: unknown key \"databse\" in [hub]" "$scratch/typo.log" ||
  { echo "install: typo.conf: exit \$rc" >&2; cat "$scratch/typo.log" >&2; exit 1; }
"$bin/ward-agent" --home "$scratch/agent" --ward LB01 import ballots "$scratch/ballots.csv" >"$scratch/import.log" 2>&1 ||
  { cat "$scratch/import.log" >&2; exit 1; }
# The examples with every key set (paths that only exist on a server
# pointed here through the environment, which wins over the file).
WARDSYNC_HUB_SQL_DIR="$data/district-hub/sql" \
WARDSYNC_HUB_ORG_UNITS="$data/district-hub/data/org_units.csv" \
WARDSYNC_HUB_PETITION_RULES="$data/district-hub/data/petition_rules.csv" \
WARDSYNC_HUB_CATALOGUE="$data/catalogue.csv" \
WARDSYNC_HUB_HUB_ROLE_PASSWORD_FILE="$scratch/hub.password" \
WARDSYNC_HUB_CITY_ROLE_PASSWORD_FILE="$scratch/city.password" \
  "$bin/district-hub" -c "$scratch/all-hub.conf" --database "$conninfo" migrate >"$scratch/all-hub.log" 2>&1 ||
  { echo "install: hub.conf with every key set:" >&2; cat "$scratch/all-hub.log" >&2; exit 1; }
WARDSYNC_AGENT_CATALOGUE="$data/catalogue.csv" \
  "$bin/ward-agent" -c "$scratch/all-agent.conf" --home "$scratch/agent" imports >"$scratch/all-agent.log" 2>&1 ||
  { echo "install: agent.conf with every key set:" >&2; cat "$scratch/all-agent.log" >&2; exit 1; }
# city-pull gets past its file, to the hub given here without a key while
# the file names the city's secret key.
rc=0; "$bin/city-pull" -c "$scratch/all-city-pull.conf" --hub X=tcp://127.0.0.1:9 >"$scratch/all-city.log" 2>&1 || rc=\$?
[ "\$rc" = 1 ] && grep -q "CURVE needs both" "$scratch/all-city.log" ||
  { echo "install: city-pull.conf with every key set: exit \$rc" >&2; cat "$scratch/all-city.log" >&2; exit 1; }
echo "install: --version, migrate, config check and import from the installed paths: ok"
CHECKS
chmod +x "$scratch/checks.sh"

if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  # The source tree (and the build tree, if inside it) out of reach.
  hide="mount -t tmpfs -o size=1m wardsync-hidden '$top'"
  case "$build/" in
  "$top"/*) ;;
  *) hide="mount -t tmpfs -o size=1m wardsync-hidden '$build' && $hide" ;;
  esac
  unshare -m bash -c "$hide && '$scratch/checks.sh'"
  echo "install: ($mode) the source tree $top was hidden"
else
  echo "install: not root or no mount namespaces: the source tree stays in place" >&2
  "$scratch/checks.sh"
fi
n=$("$psql_bin" "$conninfo" -tAc "SELECT count(*) FROM schema_migrations")
want=$(ls "$data/district-hub/sql/"*.sql | wc -l)
[ "$n" = "$want" ] || { echo "install: $n migrations applied, want $want" >&2; exit 1; }
echo "install: ($mode) $n migrations applied from $data/district-hub/sql"

# deb, as root: the packages installed for real (dpkg -i) and purged
# again, to run their maintainer scripts: the wardsync user, the
# configuration readable by it only, the units where systemd looks.
# WARDSYNC_TEST_DPKG=0 skips it; a machine that has the packages installed
# already is left alone.
if [ "$mode" = deb ] && [ "$(id -u)" = 0 ] && [ "${WARDSYNC_TEST_DPKG:-1}" != 0 ]; then
  if dpkg-query -W -f='${Status}' wardsync-common 2>/dev/null | grep -q installed; then
    echo "install: wardsync packages already installed here, dpkg -i not tried" >&2
    exit 0
  fi
  unset WARDSYNC_DATA_DIR WARDSYNC_CATALOGUE
  pkgs=(wardsync-hub wardsync-agent wardsync-city-pull wardsync-common)
  purge() { dpkg --purge "${pkgs[@]}" >"$scratch/purge.log" 2>&1; }
  trap 'purge || true; cleanup' EXIT
  dpkg -i "$build"/deb-tree/packages/*.deb >"$scratch/dpkg.log" 2>&1 ||
    { cat "$scratch/dpkg.log" >&2; exit 1; }
  getent passwd wardsync >/dev/null || { echo "install: postinst made no wardsync user" >&2; exit 1; }
  [ "$(stat -c '%U:%G %a' /etc/wardsync)" = "root:wardsync 750" ] ||
    { echo "install: /etc/wardsync is $(stat -c '%U:%G %a' /etc/wardsync)" >&2; exit 1; }
  for f in hub agent city-pull; do
    [ "$(stat -c '%U:%G %a' "/etc/wardsync/$f.conf")" = "root:wardsync 640" ] ||
      { echo "install: /etc/wardsync/$f.conf is $(stat -c '%U:%G %a' "/etc/wardsync/$f.conf")" >&2; exit 1; }
  done
  /usr/bin/district-hub --version | grep -qx "data: /usr/share/wardsync" ||
    { /usr/bin/district-hub --version >&2; exit 1; }
  out=$(systemd-analyze verify --man=no /lib/systemd/system/wardsync-hub.service \
    /lib/systemd/system/wardsync-agent.service /lib/systemd/system/wardsync-city-pull.timer 2>&1) &&
    [ -z "$out" ] || { echo "$out" >&2; exit 1; }
  purge || { cat "$scratch/purge.log" >&2; exit 1; }
  trap cleanup EXIT
  for f in /usr/bin/district-hub /etc/wardsync/hub.conf /lib/systemd/system/wardsync-hub.service; do
    [ ! -e "$f" ] || { echo "install: $f left after purge" >&2; exit 1; }
  done
  echo "install: (deb) dpkg -i: wardsync user, /etc/wardsync root:wardsync 0750, units verified; purged clean"
fi
