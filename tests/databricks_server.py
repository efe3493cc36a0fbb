"""A Databricks SQL warehouse for the tests: an HTTP server on 127.0.0.1 speaking the SQL
Statement Execution API, running each statement on SQLite over the events of a data file
(see server_common.py), or misbehaving by a script.

  python3 databricks_server.py --data FILE --token TOKEN --warehouse ID
      [--log FILE] [--script 200,429,...] [--retry-after SECONDS] [--chunk ROWS]

POST /api/2.0/sql/statements runs `statement` with its named `parameters` (`:name` markers;
each of type DATE with an ISO date as its value) bound by SQLite, never pasted into the text.
It needs `Authorization: Bearer TOKEN` (else 401), `format: JSON_ARRAY`, `disposition: INLINE`,
a `wait_timeout` of 0s or 5s to 50s, and the warehouse ID. A success answers state SUCCEEDED
with `manifest.schema.columns` (name, type_name) and `result.data_array` of strings (JSON null
for NULL), ROWS to a chunk with `next_chunk_internal_link` to the next
(GET .../statements/ID/result/chunks/N); more rows than `row_limit` are cut, with
`manifest.truncated`. An SQL error answers state FAILED with SQLite's message.

Each POST takes the next answer of the script, then `200`: `200` answers at once; `pending`
answers PENDING, then RUNNING to a first GET /api/2.0/sql/statements/ID and the result to the
next; `hang` stays RUNNING until cancelled (POST .../ID/cancel, then CANCELED); `401`, `429`,
`503` refuse with Databricks' error body (`Retry-After` for 429 and 503). With --log, each
request is a JSON line (method, path, body). Prints `READY PORT` once listening.
"""

import argparse
import json
import re
import sqlite3
import threading
import uuid

from server_common import Data, Handler, Script, kind_of, serve

TYPES = {"int": "LONG", "float": "DOUBLE", "date": "DATE", "text": "STRING"}

REFUSALS = {
    "401": ("UNAUTHENTICATED", "Invalid access token."),
    "429": ("REQUEST_LIMIT_EXCEEDED", "Too many requests. Please wait and retry."),
    "503": ("TEMPORARILY_UNAVAILABLE", "The service is temporarily unavailable."),
}


def cell(value):
    return None if value is None else str(value)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--log")
    parser.add_argument("--script", default="")
    parser.add_argument("--retry-after", default="1")
    parser.add_argument("--chunk", type=int, default=1000)
    args = parser.parse_args()
    data = Data(args.data)
    script = Script(args.script, args.log)
    lock = threading.Lock()
    # Statement id -> {"state", "polls" (GETs before it succeeds, or None to hang), "answer"}.
    statements = {}

    def execute(request):
        """The finished answer to a statement request (succeeded or failed)."""
        params = {}
        for p in request.get("parameters") or []:
            if p.get("type") != "DATE" or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(p.get("value"))):
                return failed(f"[INVALID_PARAMETER_MARKER_VALUE] parameter {p.get('name')} must be a DATE, got {json.dumps(p)}")
            params[p["name"]] = p["value"]
        try:
            names, rows = data.query(request["statement"], params)
        except sqlite3.Error as e:
            text = str(e)
            if "You did not supply a value for binding" in text:
                text = f"[UNBOUND_SQL_PARAMETER] {text}"
            return failed(f"[PARSE_SYNTAX_ERROR] {text}" if "syntax" in text else text)
        limit = request.get("row_limit")
        truncated = limit is not None and len(rows) > limit
        rows = rows[:limit] if truncated else rows
        columns = [{"name": n, "type_name": TYPES[kind_of(rows, i)], "position": i} for i, n in enumerate(names)]
        chunks = [rows[i : i + args.chunk] for i in range(0, len(rows), args.chunk)] or [[]]
        return {
            "status": {"state": "SUCCEEDED"},
            "manifest": {
                "format": "JSON_ARRAY",
                "schema": {"column_count": len(names), "columns": columns},
                "total_chunk_count": len(chunks),
                "total_row_count": len(rows),
                "truncated": truncated,
            },
            "chunks": [[[cell(v) for v in row] for row in chunk] for chunk in chunks],
        }

    def failed(message):
        return {"status": {"state": "FAILED", "error": {"error_code": "BAD_REQUEST", "message": message}}}

    def view(sid, entry):
        """The statement as GET and POST answer it: its state, and its first chunk when done."""
        answer = entry["answer"]
        if entry["state"] != "SUCCEEDED":
            status = answer["status"] if entry["state"] == "FAILED" else {"state": entry["state"]}
            return {"statement_id": sid, "status": status}
        return {
            "statement_id": sid,
            "status": answer["status"],
            "manifest": answer["manifest"],
            "result": chunk_of(sid, answer, 0),
        }

    def chunk_of(sid, answer, index):
        chunks = answer["chunks"]
        out = {"chunk_index": index, "row_count": len(chunks[index]), "data_array": chunks[index]}
        if index + 1 < len(chunks):
            out["next_chunk_index"] = index + 1
            out["next_chunk_internal_link"] = f"/api/2.0/sql/statements/{sid}/result/chunks/{index + 1}"
        return out

    class Databricks(Handler):
        def authorized(self):
            if self.headers.get("Authorization") == f"Bearer {args.token}":
                return True
            self.json(401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."})
            return False

        def do_POST(self):
            body = self.body()
            if not self.authorized():
                return
            script.log({"method": "POST", "path": self.path, "body": json.loads(body or "null")})
            m = re.fullmatch(r"/api/2.0/sql/statements/([^/]+)/cancel", self.path)
            if m:
                with lock:
                    entry = statements.get(m.group(1))
                    if entry and entry["state"] in ("PENDING", "RUNNING"):
                        entry["state"] = "CANCELED"
                        entry["answer"] = {"status": {"state": "CANCELED"}}
                return self.json(200, {})
            if self.path != "/api/2.0/sql/statements":
                return self.json(404, {"error_code": "NOT_FOUND", "message": "No API found."})
            self.statement(json.loads(body), script.next())

        def statement(self, request, answer):
            if answer in REFUSALS:
                code, message = REFUSALS[answer]
                retry = {"Retry-After": args.retry_after} if answer != "401" else {}
                return self.json(int(answer), {"error_code": code, "message": message}, retry)
            problem = self.invalid(request)
            if problem:
                return self.json(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": problem})
            sid = str(uuid.uuid4())
            entry = {"state": "SUCCEEDED", "polls": 0, "answer": execute(request)}
            if entry["answer"]["status"]["state"] == "FAILED":
                entry["state"] = "FAILED"
            elif answer in ("pending", "hang"):
                entry.update(state="PENDING", polls=None if answer == "hang" else 2)
            with lock:
                statements[sid] = entry
                self.json(200, view(sid, entry))

        def invalid(self, request):
            if request.get("warehouse_id") != args.warehouse:
                return f"Warehouse {request.get('warehouse_id')} does not exist."
            if request.get("format") != "JSON_ARRAY" or request.get("disposition") != "INLINE":
                return "Expected format JSON_ARRAY and disposition INLINE."
            wait = request.get("wait_timeout", "10s")
            m = re.fullmatch(r"(\d+)s", wait)
            if not m or not (int(m.group(1)) == 0 or 5 <= int(m.group(1)) <= 50):
                return f"wait_timeout must be 0s or between 5s and 50s, got {wait}"
            return None

        def do_GET(self):
            if not self.authorized():
                return
            script.log({"method": "GET", "path": self.path})
            m = re.fullmatch(r"/api/2.0/sql/statements/([^/]+)(/result/chunks/(\d+))?", self.path)
            with lock:
                entry = statements.get(m.group(1)) if m else None
                if entry is None:
                    return self.json(404, {"error_code": "NOT_FOUND", "message": "Statement not found."})
                if m.group(3) is not None:
                    return self.json(200, chunk_of(m.group(1), entry["answer"], int(m.group(3))))
                if entry["state"] in ("PENDING", "RUNNING") and entry["polls"] is not None:
                    entry["polls"] -= 1
                    entry["state"] = "RUNNING" if entry["polls"] > 0 else entry["answer"]["status"]["state"]
                elif entry["state"] == "PENDING":
                    entry["state"] = "RUNNING"
                self.json(200, view(m.group(1), entry))

    serve(Databricks)


if __name__ == "__main__":
    main()
