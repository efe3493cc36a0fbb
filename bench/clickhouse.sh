#!/usr/bin/env bash
# ClickHouse benchmark: 100 million events generated server-side in a throwaway ClickHouse,
# a tree of 20 leaves on a named connection, each a range query (a `period` column) over 104
# weeks, and `canopy explain --each` over them; against the floor, the same 20 queries run
# back to back by clickhouse-client. Prints the median wall time and peak RSS of RUNS
# (default 5) for each.
#
#   bash bench/clickhouse.sh [CANOPY_BINARY] [RUNS]
#
# Needs Debian's clickhouse-server and clickhouse-client, and a release build of canopy.
set -euo pipefail
cd "$(dirname "$0")/.."
canopy=$(realpath "${1:-target/release/canopy}")
runs=${2:-5}
eval "$(.ci/clickhouse.sh)"
work=$(mktemp -d)
trap '.ci/clickhouse.sh stop "$CANOPY_CH_DIR"; rm -rf "$work"' EXIT
ch() { curl -fsS "$CANOPY_TEST_CLICKHOUSE_HTTP/" --data-binary "$1"; }
echo "generating 100,000,000 events..." >&2
ch "create table events (at DateTime, kind UInt8) engine = MergeTree order by (kind, at)"
# Two years from 2024-01-01 (a Monday): one event every 0.63 s, kinds 0 to 19 in turn.
ch "insert into events select toDateTime('2024-01-01 00:00:00') + intDiv(number * 63, 100), number % 20 from numbers(100000000)"
ch "optimize table events final"
host=${CANOPY_TEST_CLICKHOUSE_HTTP#http://}
# Dates compared with dates: the bounds are dates, and ClickHouse before 19.x compares a
# DateTime with them only this way.
query="select toMonday(at) as period, count() from events where kind = KIND and toDate(at) >= {start} and toDate(at) < {end} group by period"
{
  echo "tree: clickhouse"; echo "root: total"
  echo "people: { p: { email: p@example.com } }"; echo "raci: { accountable: p }"
  echo "connections:"
  echo "  events: { url: \"clickhouse://$host/default?sslmode=disable\", user: reader, password: env:CH_PASSWORD }"
  echo "metrics:"
  printf '  total: { formula: "%s" }\n' "$(seq -s ' + ' -f 'k%g' 0 19)"
  for k in $(seq 0 19); do
    printf '  k%s:\n    source: { connection: events, sql: "%s" }\n' "$k" "${query//KIND/$k}"
  done
} > "$work/tree.yaml"
export CH_PASSWORD=$CANOPY_TEST_CLICKHOUSE_PASSWORD
# The figures mean something only if the answers are right: one week's total, both ways.
expected=$(ch "select count() from events where toDate(at) >= '2025-03-03' and toDate(at) < '2025-03-10'")
got=$("$canopy" eval "$work/tree.yaml" --period 2025-W10 --format json \
  | python3 -c 'import json, sys; print(int(next(m["value"] for m in json.load(sys.stdin)["metrics"] if m["id"] == "total")))')
if [ "$expected" != "$got" ]; then
  echo "canopy's total for 2025-W10 is $got, ClickHouse counts $expected" >&2
  exit 1
fi
echo "2025-W10: $got events, the same both ways" >&2
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
time_it() { # time_it LABEL COMMAND...: median seconds and median peak RSS in MB
  local label=$1; shift
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" > /dev/null
    cat "$work/time"
  done > "$work/times"
  local s mb
  s=$(cut -d' ' -f1 "$work/times" | median)
  mb=$(cut -d' ' -f2 "$work/times" | median)
  printf "%-44s %6.2f s %6.0f MB\n" "$label" "$s" "$(echo "$mb / 1024" | bc -l)"
}
for k in $(seq 0 19); do
  echo "select toMonday(at) as period, count() from events where kind = $k and toDate(at) >= '2024-01-01' and toDate(at) < '2025-12-29' group by period;"
done > "$work/floor.sql"
time_it "canopy explain --each, 104 weeks, 20 leaves" \
  "$canopy" explain "$work/tree.yaml" --from 2024-W01 --to 2025-W52 --each --format json
time_it "floor: the 20 queries in clickhouse-client" \
  bash -c "clickhouse-client --port $CANOPY_TEST_CLICKHOUSE_TCP_PORT --multiquery < $work/floor.sql"
