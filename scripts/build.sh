#!/usr/bin/env bash
# Builds and installs the extension into the local PostgreSQL 15.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
make -C "$here" -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG"
make -C "$here" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
