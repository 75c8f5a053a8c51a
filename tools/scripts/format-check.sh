#!/usr/bin/env bash
# Formats the sources with the checked-in .swift-format and fails when that changed anything.
set -euo pipefail
cd "$(dirname "$0")/../.."
files=$(git ls-files '*.swift')
[ -n "$files" ] || exit 0
before=$(git diff --stat -- $files | tail -1)
swift format format --in-place --configuration .swift-format $files
if ! git diff --quiet -- $files; then
  echo "error: these files are not formatted (run tools/scripts/format-check.sh and commit):" >&2
  git diff --stat -- $files >&2
  exit 1
fi
