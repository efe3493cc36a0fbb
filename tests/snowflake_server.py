"""A Snowflake account for the tests: an HTTP server on 127.0.0.1 speaking the SQL API v2,
running each statement on SQLite over the events of a data file (see server_common.py),
or misbehaving by a script.

  python3 snowflake_server.py --data FILE --public-key public.json --account ACCOUNT
      --user USER [--log FILE] [--script 200,429,...] [--retry-after SECONDS]
      [--partition ROWS]

Every request needs `X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT` and a bearer JWT
signed (RS256) by the key of public.json, whose `iss` is `ACCOUNT.USER.SHA256:fingerprint`
and `sub` `ACCOUNT.USER`, unexpired and living at most an hour; else 401 in Snowflake's words.

POST /api/v2/statements runs `statement` with its positional `?` markers bound by SQLite from
`bindings` ({"1": {"type": "TEXT" or "DATE", "value"}, ...}, one per marker), never pasted
into the text; it needs `warehouse` and `timeout`. A success answers 200 with
`resultSetMetaData` (numRows, format jsonv2, rowType name and type, partitionInfo) and the
first partition's `data`, every value a string: a DATE as days since 1970 (`type` date),
integers as `fixed`, floats as `real`, else `text`. GET /api/v2/statements/HANDLE?partition=N
answers partition N's `data`. An SQL error answers 422 with SQLite's message.

Each POST takes the next answer of the script, then `200`: `200` answers at once; `async`
answers 202 with the handle, again 202 to a first GET /api/v2/statements/HANDLE, then the
result; `hang` answers 202 until cancelled (POST .../HANDLE/cancel); `401`, `429`, `503`
refuse in Snowflake's words (`Retry-After` for 429 and 503). With --log, each request is a
JSON line (method, path, body). Prints `READY PORT` once listening.
"""

import argparse
import datetime
import json
import re
import sqlite3
import threading
import time
import uuid

from server_common import Data, Handler, Script, fingerprint, kind_of, read_public, serve, verify_jwt

TYPES = {"int": "fixed", "float": "real", "date": "date", "text": "text"}

REFUSALS = {
    "401": ("390144", "JWT token is invalid."),
    "429": ("390505", "Too many requests, please retry later."),
    "503": ("390503", "Service is temporarily unavailable."),
}

RUNNING = "Asynchronous execution in progress. Use provided query id to perform query monitoring and management."


def encode(value, kind):
    if value is None:
        return None
    if kind == "date":
        return str((datetime.date.fromisoformat(value) - datetime.date(1970, 1, 1)).days)
    return str(value)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--log")
    parser.add_argument("--script", default="")
    parser.add_argument("--retry-after", default="1")
    parser.add_argument("--partition", type=int, default=1000)
    args = parser.parse_args()
    data = Data(args.data)
    script = Script(args.script, args.log)
    public = read_public(args.public_key)
    subject = f"{args.account}.{args.user}"
    issuer = f"{subject}.{fingerprint(public)}"
    lock = threading.Lock()
    # Handle -> {"polls": GETs answered 202 before the result (None: until cancelled),
    # "result": (code, body), "partitions": lists of rows}.
    statements = {}

    def refusal_of(token):
        """Why the token is refused, or None."""
        try:
            _, claims = verify_jwt(token, public)
        except ValueError as e:
            return str(e)
        now = time.time()
        if claims.get("iss") != issuer or claims.get("sub") != subject:
            return f"iss {claims.get('iss')!r} and sub {claims.get('sub')!r} name another user or key"
        if not claims.get("exp", 0) > now or claims["exp"] - claims.get("iat", 0) > 3600:
            return "the token is expired or lives longer than an hour"
        return None

    def execute(request, handle):
        """(status, body) of a statement request."""
        if not request.get("warehouse") or not isinstance(request.get("timeout"), int):
            return 400, {"code": "391902", "message": "Expected a warehouse and a timeout."}
        bindings = request.get("bindings") or {}
        params = []
        for n in range(1, len(bindings) + 1):
            bound = bindings.get(str(n)) or {}
            if bound.get("type") not in ("TEXT", "DATE"):
                return 422, {"code": "002049", "message": f"Unsupported bind type for binding {n}: {bound}", "statementHandle": handle}
            params.append(bound.get("value"))
        try:
            names, rows = data.query(request["statement"], params)
        except sqlite3.Error as e:
            return 422, {"code": "002003", "sqlState": "42000", "message": f"SQL compilation error:\n{e}", "statementHandle": handle}
        kinds = [kind_of(rows, i) for i in range(len(names))]
        encoded = [[encode(v, kinds[i]) for i, v in enumerate(row)] for row in rows]
        parts = [encoded[i : i + args.partition] for i in range(0, len(encoded), args.partition)] or [[]]
        meta = {
            "numRows": len(rows),
            "format": "jsonv2",
            "rowType": [{"name": n.upper(), "type": TYPES[k], "nullable": True} for n, k in zip(names, kinds)],
            "partitionInfo": [{"rowCount": len(p)} for p in parts],
        }
        body = {"resultSetMetaData": meta, "data": parts[0], "code": "090001", "statementHandle": handle,
                "message": "Statement executed successfully."}
        return 200, {"body": body, "partitions": parts}

    class Snowflake(Handler):
        def authorized(self):
            problem = None
            if self.headers.get("X-Snowflake-Authorization-Token-Type") != "KEYPAIR_JWT":
                problem = "missing X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT"
            auth = self.headers.get("Authorization", "")
            problem = problem or (refusal_of(auth[7:]) if auth.startswith("Bearer ") else "no bearer token")
            if problem is None:
                return True
            self.json(401, {"code": "390144", "message": f"JWT token is invalid. [{problem}]"})
            return False

        def do_POST(self):
            body = self.body()
            if not self.authorized():
                return
            script.log({"method": "POST", "path": self.path, "body": json.loads(body or "null")})
            m = re.fullmatch(r"/api/v2/statements/([^/?]+)/cancel", self.path)
            if m:
                with lock:
                    statements.pop(m.group(1), None)
                return self.json(200, {"code": "000604", "message": "SQL execution canceled"})
            if self.path != "/api/v2/statements":
                return self.json(404, {"code": "390404", "message": "Not found."})
            answer = script.next()
            if answer in REFUSALS:
                code, message = REFUSALS[answer]
                retry = {"Retry-After": args.retry_after} if answer != "401" else {}
                return self.json(int(answer), {"code": code, "message": message}, retry)
            handle = str(uuid.uuid4())
            status, result = execute(json.loads(body), handle)
            if status != 200:
                return self.json(status, result)
            polls = {"async": 1, "hang": None}.get(answer, 0)
            if polls == 0:
                with lock:
                    statements[handle] = {"polls": 0, **result}
                return self.json(200, result["body"])
            with lock:
                statements[handle] = {"polls": polls, **result}
            self.running(handle)

        def running(self, handle):
            self.json(202, {"code": "333334", "message": RUNNING, "statementHandle": handle,
                            "statementStatusUrl": f"/api/v2/statements/{handle}"})

        def do_GET(self):
            if not self.authorized():
                return
            script.log({"method": "GET", "path": self.path})
            m = re.fullmatch(r"/api/v2/statements/([^/?]+)(\?partition=(\d+))?", self.path)
            with lock:
                entry = statements.get(m.group(1)) if m else None
                if entry is None:
                    return self.json(404, {"code": "333333", "message": "Statement not found."})
                if m.group(3) is not None:
                    return self.json(200, {"data": entry["partitions"][int(m.group(3))]})
                if entry["polls"] is None or entry["polls"] > 0:
                    if entry["polls"]:
                        entry["polls"] -= 1
                    return self.running(m.group(1))
                self.json(200, entry["body"])

    serve(Snowflake)


if __name__ == "__main__":
    main()
