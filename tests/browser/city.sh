#!/usr/bin/env bash
# The city report in a real browser: city-pull creates a warehouse in a
# scratch database, city_fixture.sql gives it three districts, "city-pull
# report" writes the report, headless Chromium lays it out, and every
# chart must draw one bar per district, with the Vietnamese text and the
# stale hub (TH) shown.
#
# Usage: tests/browser/city.sh CITY_PULL_BIN OUT_DIR
# Needs WARDSYNC_TEST_DATABASE (scripts/run-tests.sh) and chromium.
set -euo pipefail
city_bin=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
: "${WARDSYNC_TEST_DATABASE:?run through scripts/run-tests.sh}"
chromium_bin=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium_bin" ] || { echo "browser: chromium is not installed (scripts/install-deps.sh)" >&2; exit 1; }
psql_bin=$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)

db="wardsync_it_city_browser_$$"
admin=$(printf '%s' "$WARDSYNC_TEST_DATABASE" | sed 's/dbname=[^ ]*/dbname=postgres/')
conninfo=$(printf '%s' "$WARDSYNC_TEST_DATABASE" | sed "s/dbname=[^ ]*/dbname=$db/")
profile=$(mktemp -d)
cleanup() {
  rm -rf "$profile"
  "$psql_bin" "$admin" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
trap cleanup EXIT
mkdir -p "$out"

"$psql_bin" "$admin" -qc "CREATE DATABASE $db"
# No hub answers: city-pull migrates the warehouse, then reports the hub
# (exit 4).
rc=0
"$city_bin" --hub "X=tcp://127.0.0.1:9" --timeout-ms 100 --into "$conninfo" \
  >"$out/migrate.log" 2>&1 || rc=$?
[ "$rc" -eq 4 ] || { cat "$out/migrate.log" >&2; echo "browser: city-pull --into exit $rc, want 4" >&2; exit 1; }
"$psql_bin" "$conninfo" -v ON_ERROR_STOP=1 -qf "$here/city_fixture.sql"
"$city_bin" report --from "$conninfo" -o "$out/city.html"

probe="$out/city-probe.html"
sed 's#</body></html>##' "$out/city.html" >"$probe"
cat >>"$probe" <<'HTML'
<script>
(function () {
  var out = {charts: {}, text: document.body.innerText};
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var drawn = 0;
    svg.querySelectorAll('rect.bar').forEach(function (b) {
      var r = b.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) drawn++;
    });
    out.charts[svg.id] = {expected: Number(svg.getAttribute('data-bars')),
                          drawn: drawn};
  });
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script></body></html>
HTML
timeout 90 "$chromium_bin" --headless --no-sandbox --disable-gpu \
  --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --disable-extensions \
  --user-data-dir="$profile" --dump-dom "file://$probe" \
  >"$out/city-dom.html" 2>>"$out/chromium.log"

python3 - "$out/city-dom.html" <<'PY'
import html, json, re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
if not m:
    sys.exit("browser: FAIL: no probe output (did the page load?)")
probe = json.loads(html.unescape(m.group(1)))
charts = probe["charts"]
want = {"chart-petitions", "chart-resolved", "chart-overdue", "chart-ballots"}
if set(charts) != want:
    sys.exit("browser: FAIL: charts %s, want %s" % (sorted(charts), sorted(want)))
for name, c in charts.items():
    if c["expected"] != 3 or c["drawn"] != 3:
        sys.exit("browser: FAIL: %s drew %d of %d bars, want 3 (one per district)"
                 % (name, c["drawn"], c["expected"]))
for text in ["Báo cáo kỷ luật, kỷ cương hành chính – toàn thành phố",
             "Đơn thư tiếp nhận", "Quận chưa cập nhật", "TH – nạp lần cuối"]:
    if text not in probe["text"]:
        sys.exit("browser: FAIL: the page does not show %r" % text)
print("browser: city report OK: 4 charts, 3 bars each, Vietnamese text, stale hub shown")
PY
