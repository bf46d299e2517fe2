#!/usr/bin/env bash
# `make test`: lint (ruff, ESLint), types, the browser code's unit tests (node --test), then the whole
# suite on SQLite and, side by side, on a throwaway PostgreSQL, with a real clamd loaded with the project's test
# signatures. Stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

work=$(mktemp -d /tmp/ferry-test.XXXXXX)
chmod 755 "$work"
cleanup() {
  if [ -n "${pg_pid:-}" ]; then kill "$pg_pid" 2>/dev/null || true; fi
  python -m devstack.clamd stop --run-dir "$work/clamd" >/dev/null 2>&1 || true
  python -m devstack.postgres stop "$work/postgres" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy
echo "== eslint"
node_modules/.bin/eslint .
echo "== node --test"
# MockTimers is still marked experimental in node 20; its warning is noise here.
find tests -name '*.test.mjs' -print0 | sort -z | xargs -0 node --disable-warning=ExperimentalWarning --test

echo "== starting clamd (test signatures) and PostgreSQL"
FERRY_TEST_CLAMD_ADDRESS=$(python -m devstack.clamd start --run-dir "$work/clamd")
export FERRY_TEST_CLAMD_ADDRESS
pg_url=$(python -m devstack.postgres start "$work/postgres")

# The two passes run side by side: each pytest is one single-threaded process, so on two or more cores
# this halves the wall time. The PostgreSQL pass's output is kept and printed once the SQLite pass ends.
echo "== pytest on SQLite and, beside it, on PostgreSQL"
DATABASE_URL="$pg_url" pytest "$@" >"$work/postgres.log" 2>&1 &
pg_pid=$!
sqlite_rc=0
env -u DATABASE_URL pytest "$@" || sqlite_rc=$?
pg_rc=0
wait "$pg_pid" || pg_rc=$?
echo "== pytest on PostgreSQL"
cat "$work/postgres.log"
if [ "$sqlite_rc" -ne 0 ] || [ "$pg_rc" -ne 0 ]; then
  echo "make test: failed (SQLite pass exit $sqlite_rc, PostgreSQL pass exit $pg_rc)" >&2
  exit 1
fi
