#!/usr/bin/env bash
# The district report in a real browser: builds a small district in a
# scratch database (fixture.sql), writes the report with "district-hub
# report", opens it in headless Chromium and checks that every chart drew
# the expected number of bars, that the Vietnamese text is there, and that
# a screenshot shows the charts' colours.
#
# Usage: tests/browser/run.sh HUB_BIN OUT_DIR
# Needs WARDSYNC_TEST_DATABASE (scripts/run-tests.sh) and chromium.
set -euo pipefail
hub_bin=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
: "${WARDSYNC_TEST_DATABASE:?run through scripts/run-tests.sh}"
chromium_bin=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium_bin" ] || { echo "browser: chromium is not installed (scripts/install-deps.sh)" >&2; exit 1; }
psql_bin=$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)

db="wardsync_it_browser_$$"
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
"$hub_bin" --database "$conninfo" migrate >"$out/migrate.log" 2>&1
"$psql_bin" "$conninfo" -v ON_ERROR_STOP=1 -qf "$here/fixture.sql"
"$hub_bin" --database "$conninfo" report -o "$out/report.html"

chromium_run() {
  timeout 90 "$chromium_bin" --headless --no-sandbox --disable-gpu \
    --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --disable-extensions \
    --user-data-dir="$profile" --hide-scrollbars "$@" 2>>"$out/chromium.log"
}

# 1. Layout: a copy of the report with a probe that measures every bar.
probe="$out/report-probe.html"
sed 's#</body></html>##' "$out/report.html" >"$probe"
cat >>"$probe" <<'HTML'
<script>
(function () {
  var out = {charts: {}, text: document.body.innerText};
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var bars = svg.querySelectorAll('rect.bar'), drawn = 0;
    bars.forEach(function (b) {
      var r = b.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) drawn++;
    });
    out.charts[svg.id] = {expected: Number(svg.getAttribute('data-bars')),
                          bars: bars.length, drawn: drawn,
                          width: svg.getBoundingClientRect().width};
  });
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script></body></html>
HTML
chromium_run --dump-dom "file://$probe" >"$out/dom.html"

# 2. Pixels: a screenshot of the report itself.
rm -f "$out/report.png"
chromium_run --window-size=1280,2400 --screenshot="$out/report.png" \
  "file://$out/report.html" >/dev/null

python3 "$here/check.py" "$out/dom.html" "$out/report.png"
