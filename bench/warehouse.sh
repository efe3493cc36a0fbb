#!/usr/bin/env bash
# Warehouse benchmark: 10 million generated events in a throwaway PostgreSQL, a tree of 20 SQL
# leaves over 104 weeks, and `canopy explain --each` over them with per-period queries on one
# connection and on four, and with range queries; against the floor, the same 20 range queries
# run back to back in psql. Prints the median of RUNS (default 5) for each.
#
#   bash bench/warehouse.sh [CANOPY_BINARY] [RUNS]
#
# Needs PostgreSQL's server binaries (Debian: postgresql) and a release build of canopy.
set -euo pipefail
cd "$(dirname "$0")/.."
canopy=$(realpath "${1:-target/release/canopy}")
runs=${2:-5}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
eval "$(.ci/postgres.sh)"
trap '.ci/postgres.sh stop "$CANOPY_PG_DIR"' EXIT
url=$CANOPY_TEST_POSTGRES_URL
psql() { "$bin/psql" -X -q -v ON_ERROR_STOP=1 "$url" "$@"; }
echo "generating 10,000,000 events..." >&2
psql -c "create table events (at timestamp not null, kind int not null);
  insert into events select timestamp '2024-01-01' + i * 6.28992 * interval '1 second', i % 20
    from generate_series(1, 10000000) i;
  create index on events (kind, at); analyze events;"
work=$(mktemp -d)
trap '.ci/postgres.sh stop "$CANOPY_PG_DIR"; rm -rf "$work"' EXIT
tree() { # tree NAME QUERY-TEMPLATE (with KIND for the leaf's kind)
  {
    echo "tree: $1"; echo "root: total"
    echo "people: { p: { email: p@example.com } }"; echo "raci: { accountable: p }"
    echo "metrics:"
    printf '  total: { formula: "%s" }\n' "$(seq -s ' + ' -f 'k%g' 0 19)"
    for k in $(seq 0 19); do
      printf '  k%s:\n    source: { sql: "%s" }\n' "$k" "${2//KIND/$k}"
    done
  } > "$work/$1.yaml"
}
tree weekly "select count(*) from events where kind = KIND and at >= {start} and at < {end}"
tree ranged "select date_trunc('week', at) as period, count(*) from events where kind = KIND and at >= {start} and at < {end} group by 1"
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
time_it() { # time_it LABEL COMMAND...
  local label=$1; shift
  for _ in $(seq "$runs"); do
    local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc
  done | median | awk -v l="$label" '{ printf "%-34s %.2f s\n", l, $1 }'
}
explain() { # explain TREE: every week of the two years, as JSON
  echo "$canopy" explain "$work/$1.yaml" --data "$url" --from 2024-W01 --to 2025-W52 --each --format json
}
floor() {
  for k in $(seq 0 19); do
    echo "select date_trunc('week', at) as period, count(*) from events where kind = $k and at >= '2024-01-01' and at < '2025-12-29' group by 1;"
  done | psql > /dev/null
}
# shellcheck disable=SC2046 # the command's words are meant to split
time_it "per-period, 1 connection" env CANOPY_SQL_CONNECTIONS=1 $(explain weekly)
# shellcheck disable=SC2046
time_it "per-period, 4 connections" env CANOPY_SQL_CONNECTIONS=4 $(explain weekly)
# shellcheck disable=SC2046
time_it "range queries" $(explain ranged)
time_it "floor: the 20 range queries in psql" floor
