"""A PostHog project for the tests: an HTTP server on 127.0.0.1 answering PostHog's query API
by running the HogQL on a real ClickHouse, or misbehaving by a script.

  python3 posthog_server.py --clickhouse URL --password PASSWORD --events FILE --key KEY
      [--log FILE] [--script 200,429,...] [--retry-after SECONDS] [--hang SECONDS]

At start, the events of FILE (a JSON list of {"event", "person_id", "timestamp"}, the
timestamp as "YYYY-MM-DD HH:MM:SS" in UTC) are loaded into a table of their own, created as
ClickHouse's `default` user; queries run as `reader` with PASSWORD. HogQL's `events` table is
that table. Placeholders `{name}` take the request's `values`, each of which must be an ISO
date and becomes a typed ClickHouse literal (`toDateTime('2026-11-16 00:00:00', 'UTC')`), so
no value is pasted into the query as text. As PostHog does, a query without a LIMIT returns
at most 100 rows, with `hasMore` when there were more.

POST /api/projects/ID/query/ ({"query": {"kind": "HogQLQuery", "query", "values"}}) answers
{"results", "columns", "types", "hasMore"}; it needs `Authorization: Bearer KEY` (else 401).
Each such request takes the next answer of the script, then `200` for the rest: `200` runs the
query; `429` and `503` ask to retry after --retry-after seconds; `401` and `500` refuse with
PostHog's `detail`; `hasmore` runs the query and says it has more rows; `async` runs it and
answers a `query_status` that is not complete, which GET /api/projects/ID/query/QUERY_ID/
then answers complete; `notjson` answers 200 with an HTML page; `hang` answers nothing for
--hang seconds, then closes. With --log, each query request is written as one JSON line
(path and body). Prints `READY PORT` once listening.
"""

import argparse
import base64
import json
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from server_common import Handler, Script, serve

DETAILS = {
    401: ("authentication_error", "Invalid personal API key."),
    429: ("throttled_error", "Request was throttled. Expected available in 1 second."),
    500: ("server_error", "A server error occurred."),
    503: ("server_error", "Service temporarily unavailable."),
}


class ClickHouse:
    def __init__(self, url, password):
        self.url = url.rstrip("/")
        self.password = password

    def run(self, sql, user="default", password=""):
        """ClickHouse's answer to `sql`, raising ValueError with its message on an error."""
        settings = urllib.parse.urlencode({"output_format_json_quote_64bit_integers": 0})
        request = urllib.request.Request(f"{self.url}/?{settings}", data=sql.encode("utf-8"))
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            raise ValueError(e.read().decode("utf-8", "replace").strip()) from None

    def load(self, table, events):
        self.run(f"DROP TABLE IF EXISTS {table}")
        self.run(
            f"CREATE TABLE {table} (event String, person_id String, timestamp DateTime('UTC')) "
            "ENGINE = MergeTree ORDER BY timestamp"
        )
        rows = "\n".join(json.dumps(e) for e in events)
        self.run(f"INSERT INTO {table} FORMAT JSONEachRow\n{rows}")


def literal(name, values):
    """The typed ClickHouse literal of placeholder `name`, or ValueError in PostHog's words."""
    if name not in values:
        raise ValueError(f"Placeholder {{{name}}} is not available in this context. You can use the following: {', '.join(sorted(values))}")
    value = values[name]
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"Placeholder {{{name}}}: expected a date, got {value!r}")
    return f"toDateTime('{value} 00:00:00', 'UTC')"


def translate(hogql, values, table):
    """`hogql` as ClickHouse SQL: placeholders as typed literals, `events` as the table."""
    sql = re.sub(r"\{(\w+)\}", lambda m: literal(m.group(1), values), hogql)
    return re.sub(r"(?i)\bfrom\s+events\b", f"FROM {table}", sql)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clickhouse", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--events", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--log")
    parser.add_argument("--script", default="")
    parser.add_argument("--retry-after", default="1")
    parser.add_argument("--hang", type=float, default=5.0)
    args = parser.parse_args()
    clickhouse = ClickHouse(args.clickhouse, args.password)
    table = f"default.posthog_events_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with open(args.events, encoding="utf-8") as f:
        clickhouse.load(table, json.load(f))
    script = Script(args.script, args.log)
    lock = threading.Lock()
    running = {}

    def query(body):
        """The response to a query request's body: (status, JSON)."""
        try:
            request = json.loads(body)["query"]
            if request.get("kind") != "HogQLQuery":
                return 400, {"type": "validation_error", "detail": f"Unsupported query kind: {request.get('kind')}"}
            sql = translate(request["query"], request.get("values") or {}, table)
        except ValueError as e:
            return 400, {"type": "validation_error", "code": "invalid_input", "detail": str(e)}
        except (KeyError, TypeError):
            return 400, {"type": "validation_error", "detail": "The query is missing."}
        limited = re.search(r"(?i)\blimit\s+\d+", sql) is not None
        try:
            text = clickhouse.run(
                f"{sql} {'' if limited else 'LIMIT 101'} FORMAT JSONCompact",
                "reader",
                args.password,
            )
        except ValueError as e:
            return 400, {"type": "validation_error", "code": "query_error", "detail": str(e)}
        answer = json.loads(text)
        rows = answer["data"]
        more = not limited and len(rows) > 100
        return 200, {
            "results": rows[:100],
            "columns": [m["name"] for m in answer["meta"]],
            "types": [[m["name"], m["type"]] for m in answer["meta"]],
            "hasMore": more,
            "limit": 100,
            "offset": 0,
        }

    class PostHogHandler(Handler):
        def do_POST(self):
            body = self.body()
            if not re.fullmatch(r"/api/projects/\d+/query/", self.path):
                return self.json(404, {"type": "invalid_request", "detail": "Not found."})
            if not self.authorized():
                return
            answer = script.next()
            script.log({"path": self.path, "body": json.loads(body)})
            self.answer(answer, body)

        def do_GET(self):
            m = re.fullmatch(r"/api/projects/\d+/query/([^/]+)/", self.path)
            if not m:
                return self.json(404, {"type": "invalid_request", "detail": "Not found."})
            if not self.authorized():
                return
            with lock:
                found = running.pop(m.group(1), None)
            if found is None:
                return self.json(404, {"type": "invalid_request", "detail": "Query not found."})
            status = {"id": m.group(1), "complete": True, "error": False, "query_async": True, "results": found}
            self.json(200, {"query_status": status})

        def authorized(self):
            if self.headers.get("Authorization") == f"Bearer {args.key}":
                return True
            kind, detail = DETAILS[401]
            self.json(401, {"type": kind, "code": "authentication_failed", "detail": detail})
            return False

        def answer(self, answer, body):
            if answer == "hang":
                time.sleep(args.hang)
                self.close_connection = True
                return
            if answer in ("401", "429", "500", "503"):
                kind, detail = DETAILS[int(answer)]
                retry = {"Retry-After": args.retry_after} if answer in ("429", "503") else {}
                return self.json(int(answer), {"type": kind, "detail": detail}, retry)
            if answer == "notjson":
                return self.send(200, b"<html><body>Bad gateway</body></html>", "text/html")
            code, response = query(body)
            if answer == "hasmore" and code == 200:
                response["hasMore"] = True
            if answer == "async" and code == 200:
                qid = uuid.uuid4().hex
                with lock:
                    running[qid] = response
                status = {"id": qid, "complete": False, "error": False, "query_async": True}
                return self.json(202, {"query_status": status})
            self.json(code, response)

    serve(PostHogHandler)


if __name__ == "__main__":
    main()
