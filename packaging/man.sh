#!/bin/sh
# Writes a program's man page from its own --help texts, so the two never
# disagree: help2man over "PROGRAM --help", plus one subsection per
# command from "PROGRAM COMMAND --help", plus the hand-written sections of
# packaging/man/PROGRAM.h2m (files, environment, see also).
# Usage: packaging/man.sh PROGRAM_BINARY SUMMARY OUT.1 [COMMAND...]
set -eu
bin=$1 summary=$2 out=$3
shift 3
name=$(basename "$bin")
here=$(cd "$(dirname "$0")" && pwd)
include="$out.h2m"
# The version from --version's first line, "NAME (wardsync) VERSION"; the
# rest of --version (the data folder of this build) is no part of a page.
version=$("$bin" --version | sed -n '1s/.* //p')
{
  cat "$here/man/$name.h2m"
  if [ $# -gt 0 ]; then
    printf '[COMMANDS]\n'
    for command in "$@"; do
      printf '.SS "%s"\n.nf\n' "$command"
      # roff: a leading dot or quote would be a request, a backslash an
      # escape.
      "$bin" "$command" --help | sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
      printf '.fi\n'
    done
  fi
} >"$include"
help2man --no-info --no-discard-stderr --name="$summary" \
  --version-string="$version" --include="$include" --output="$out" "$bin"
rm -f "$include"
