"""Cloud warehouses benchmark: two years of events (20 kinds a day from 2024-01-01) served by
the loopback Databricks, BigQuery and Snowflake servers of tests/ (each speaking its statement
API over SQLite), a tree of 20 leaves on each, each leaf a range query (a `period` column),
and `canopy explain --each` over the 104 weeks; against the floor, the same statements (the
columns read on an empty range, then the range) sent back to back by a small Python client.
Prints the statements of one week's `eval` in both forms (range and per period), then the
median wall time and peak RSS of RUNS (default 5) of each.

  python3 bench/warehouses.py [CANOPY_BINARY] [RUNS]

Needs a release build of canopy and Python 3 alone.
"""

import datetime
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import server_common  # noqa: E402

START = datetime.date(2024, 1, 1)
WEEKS = 104
RANGE = "select date(day, '-6 days', 'weekday 1') as period, sum(n) from events where plan = 'kK' and day >= {start} and day < {end} group by 1"
PER_PERIOD = "select sum(n) from events where plan = 'kK' and day >= {start} and day < {end}"
EMAIL = "canopy@bench.iam.gserviceaccount.com"


def events():
    out = []
    for d in range(WEEKS * 7):
        day = (START + datetime.timedelta(days=d)).isoformat()
        out.extend({"day": day, "plan": f"k{k}", "n": (d * 7 + k * 13) % 50 + 1} for k in range(20))
    return out


def start(script, args):
    child = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", script), *args], stdout=subprocess.PIPE, text=True)
    port = int(child.stdout.readline().split()[1])
    return child, port


def tree(name, url, secret, query, user=""):
    lines = [f"tree: {name}", "root: total", "people: { p: { email: p@example.com } }", "raci: { accountable: p }",
             "connections:", f"  wh: {{ url: \"{url}\", {user}{secret} }}", "metrics:",
             "  total: { formula: \"" + " + ".join(f"k{k}" for k in range(20)) + "\" }"]
    lines += [f"  k{k}: {{ source: {{ connection: wh, sql: \"{query.replace('kK', f'k{k}')}\" }} }}" for k in range(20)]
    return "\n".join(lines) + "\n"


def statements(log):
    """The statements a server's log holds (its POSTs of a statement), and empties the log."""
    if not os.path.exists(log):
        return 0
    with open(log, encoding="utf-8") as f:
        posts = [json.loads(line) for line in f]
    os.remove(log)
    return sum(1 for p in posts if p["method"] == "POST" and p["path"].rstrip("/").endswith(("statements", "queries")))


def measure(command, runs, env=None):
    times, rss = [], []
    for _ in range(runs):
        out = subprocess.run(["/usr/bin/time", "-f", "%e %M", *command], capture_output=True, text=True, env=env)
        if out.returncode != 0:
            sys.exit(f"{command[:3]} failed: {out.stderr[-2000:]}")
        seconds, kb = out.stderr.strip().splitlines()[-1].split()
        times.append(float(seconds))
        rss.append(int(kb) / 1024)
    return statistics.median(times), statistics.median(rss)


def floor(kind, port, folder):
    """The same statements as the tree's, sent back to back: for each leaf its columns on an
    empty range, then its range; in the API's own request shapes."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    first, end = START.isoformat(), (START + datetime.timedelta(weeks=WEEKS)).isoformat()
    headers = {"Content-Type": "application/json"}
    if kind == "snowflake":
        with open(f"{folder}/private.json", encoding="utf-8") as f:
            private = json.load(f)
        now = int(time.time())
        claims = {"iss": f"BENCH.CANOPY.{server_common.fingerprint(server_common.read_public(f'{folder}/public.json'))}", "sub": "BENCH.CANOPY", "iat": now, "exp": now + 3600}
        headers["Authorization"] = "Bearer " + server_common.sign_jwt({"alg": "RS256", "typ": "JWT"}, claims, private)
        headers["X-Snowflake-Authorization-Token-Type"] = "KEYPAIR_JWT"
    else:
        headers["Authorization"] = "Bearer bench-token"
    for k in range(20):
        sql = RANGE.replace("kK", f"k{k}")
        for lo, hi in (("1970-01-01", "1970-01-01"), (first, end)):
            if kind == "databricks":
                path, body = "/api/2.0/sql/statements", {"warehouse_id": "w1", "statement": sql.replace("{start}", ":start").replace("{end}", ":end"), "format": "JSON_ARRAY", "disposition": "INLINE", "wait_timeout": "30s", "parameters": [{"name": "start", "value": lo, "type": "DATE"}, {"name": "end", "value": hi, "type": "DATE"}]}
            elif kind == "bigquery":
                params = [{"name": n, "parameterType": {"type": "DATE"}, "parameterValue": {"value": v}} for n, v in (("start", lo), ("end", hi))]
                path, body = "/bigquery/v2/projects/bench/queries", {"query": sql.replace("{start}", "@start").replace("{end}", "@end"), "useLegacySql": False, "parameterMode": "NAMED", "queryParameters": params, "location": "EU", "maxResults": 100000}
            else:
                path, body = "/api/v2/statements", {"statement": sql.replace("{start}", "?").replace("{end}", "?"), "warehouse": "W", "timeout": 300, "bindings": {"1": {"type": "TEXT", "value": lo}, "2": {"type": "TEXT", "value": hi}}}
            conn.request("POST", path, json.dumps(body), headers)
            answer = conn.getresponse()
            assert answer.status == 200, answer.read()
            answer.read()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "floor":
        return floor(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    canopy = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/canopy"))
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    work = tempfile.mkdtemp()
    data = f"{work}/events.json"
    rows = events()
    with open(data, "w", encoding="utf-8") as f:
        json.dump(rows, f)
    server_common.write_key(work)
    with open(f"{work}/key.pem", encoding="utf-8") as f:
        key = f.read()
    servers = {
        "databricks": start("databricks_server.py", ["--data", data, "--token", "bench-token", "--warehouse", "w1", "--log", f"{work}/databricks.log"]),
        "bigquery": start("bigquery_server.py", ["--data", data, "--project", "bench", "--location", "EU", "--token", "bench-token", "--log", f"{work}/bigquery.log"]),
        "snowflake": start("snowflake_server.py", ["--data", data, "--public-key", f"{work}/public.json", "--account", "BENCH", "--user", "CANOPY", "--log", f"{work}/snowflake.log"]),
    }
    urls = {
        "databricks": (f"databricks://127.0.0.1:{servers['databricks'][1]}/warehouses/w1?scheme=http", "token: env:WH_SECRET", ""),
        "bigquery": (f"bigquery://bench?location=EU&endpoint=http://127.0.0.1:{servers['bigquery'][1]}", "credentials: env:WH_SECRET", ""),
        "snowflake": (f"snowflake://bench/DB/PUBLIC?warehouse=W&endpoint=http://127.0.0.1:{servers['snowflake'][1]}", "key: env:WH_SECRET", "user: canopy, "),
    }
    secrets = {"databricks": "bench-token", "bigquery": "bench-token", "snowflake": key}
    week = (START + datetime.timedelta(weeks=61)).isoformat(), (START + datetime.timedelta(weeks=62)).isoformat()
    expected = sum(r["n"] for r in rows if week[0] <= r["day"] < week[1])
    try:
        for kind, (url, secret, user) in urls.items():
            env = dict(os.environ, WH_SECRET=secrets[kind])
            log = f"{work}/{kind}.log"
            for form, query in (("range", RANGE), ("per-period", PER_PERIOD)):
                with open(f"{work}/{kind}-{form}.yaml", "w", encoding="utf-8") as f:
                    f.write(tree(f"{kind}_{form.replace('-', '_')}", url, secret, query, user))
                statements(log)
                out = subprocess.run([canopy, "eval", f"{work}/{kind}-{form}.yaml", "--period", "2025-W10", "--format", "json"], capture_output=True, text=True, env=env)
                doc = json.loads(out.stdout or "null") or sys.exit(out.stderr)
                got = next(m["value"] for m in doc["metrics"] if m["id"] == "total")
                assert got == expected, f"{kind} {form}: canopy's 2025-W10 total is {got}, the data's {expected}"
                print(f"{kind}: eval of one week, {form} form: {statements(log)} statements; 2025-W10 total {got:.0f}, as in the data")
            explain = [canopy, "explain", f"{work}/{kind}-range.yaml", "--from", "2024-W01", "--to", "2025-W52", "--each", "--format", "json"]
            s, mb = measure(explain, runs, env)
            print(f"{kind}: canopy explain --each, 104 weeks, 20 leaves: {s:.2f} s {mb:.0f} MB ({statements(log) // runs} statements a run)")
            s, mb = measure([sys.executable, os.path.abspath(__file__), "floor", kind, str(servers[kind][1]), work], runs)
            print(f"{kind}: floor, the same 40 statements from Python:    {s:.2f} s {mb:.0f} MB")
    finally:
        for child, _ in servers.values():
            child.kill()


if __name__ == "__main__":
    main()
