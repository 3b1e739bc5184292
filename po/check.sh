#!/bin/sh
# po/check.sh SOURCE_DIR: fails when a message of the sources listed in
# po/POTFILES has no Vietnamese translation in po/vi.po (missing, empty or
# fuzzy), or when vi.po does not compile (msgfmt --check: formats match).
set -eu
cd "$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2046
xgettext --from-code=UTF-8 --keyword=_ --keyword=N_ -o "$tmp/wardsync.pot" \
  $(cat po/POTFILES)
msgcmp po/vi.po "$tmp/wardsync.pot"
msgfmt --check -o /dev/null po/vi.po
echo "po/vi.po: every message translated"
