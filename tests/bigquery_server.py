"""A BigQuery project for the tests: an HTTP server on 127.0.0.1 speaking `jobs.query` and
`jobs.getQueryResults`, running each query on SQLite over the events of a data file (see
server_common.py), with a token endpoint for a service account, or misbehaving by a script.

  python3 bigquery_server.py --data FILE --project P --location L
      [--public-key public.json --email EMAIL] [--token TOKEN] [--log FILE]
      [--script 200,429,...] [--retry-after SECONDS] [--page ROWS]

POST /token takes a form with the JWT bearer grant: the assertion must be an RS256 JWT signed
by the key of public.json, with `iss` EMAIL, `aud` this endpoint's URL, the scope
`bigquery.readonly` and a life of at most an hour; it answers a fresh access token, else 400
`invalid_grant`. API requests need `Authorization: Bearer` with such a token, or TOKEN; else
401 in BigQuery's words.

POST /bigquery/v2/projects/P/queries runs `query` (useLegacySql false, parameterMode NAMED,
location L) with its `@name` parameters (each of type DATE with an ISO date) bound by SQLite,
never pasted into the text. A complete answer has `schema.fields` (name, type: INTEGER, FLOAT,
DATE, STRING), `totalRows`, and up to min(maxResults, ROWS) `rows` of `{"f": [{"v": string}]}`
with a `pageToken` for the next page, which GET /bigquery/v2/projects/P/queries/JOB?pageToken=
answers. An SQL error answers 400 with SQLite's message.

Each POST takes the next answer of the script, then `200`: `200` completes at once; `pending`
answers `jobComplete: false`, and so does the first GET of the job's results; `hang` stays
incomplete until cancelled (POST /bigquery/v2/projects/P/jobs/JOB/cancel); `401`, `429`, `503`
refuse in BigQuery's words (`Retry-After` for 429 and 503). With --log, each request is a JSON
line (method, path, body). Prints `READY PORT` once listening.
"""

import argparse
import json
import re
import sqlite3
import threading
import time
import urllib.parse
import uuid

from server_common import Data, Handler, Script, kind_of, read_public, serve, verify_jwt

TYPES = {"int": "INTEGER", "float": "FLOAT", "date": "DATE", "text": "STRING"}

REFUSALS = {
    "401": ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
    "429": ("RESOURCE_EXHAUSTED", "Exceeded rate limits: too many api requests per user per method for this user_method."),
    "503": ("UNAVAILABLE", "The service is currently unavailable."),
}


def error(code, status, message, reason="invalidQuery"):
    return {"error": {"code": code, "message": message, "errors": [{"message": message, "reason": reason}], "status": status}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--location", required=True)
    parser.add_argument("--public-key")
    parser.add_argument("--email")
    parser.add_argument("--token")
    parser.add_argument("--log")
    parser.add_argument("--script", default="")
    parser.add_argument("--retry-after", default="1")
    parser.add_argument("--page", type=int, default=1000)
    args = parser.parse_args()
    data = Data(args.data)
    script = Script(args.script, args.log)
    public = read_public(args.public_key) if args.public_key else None
    lock = threading.Lock()
    tokens = {args.token} if args.token else set()
    # Job id -> {"polls": incomplete answers left (None: until cancelled), "fields", "rows"}.
    jobs = {}
    root = f"/bigquery/v2/projects/{args.project}"

    def grant(form, audience):
        """(status, body) of a token request."""
        fields = urllib.parse.parse_qs(form)
        if fields.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."}
        try:
            _, claims = verify_jwt(fields.get("assertion", [""])[0], public)
        except ValueError:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        now = time.time()
        if claims.get("iss") != args.email or claims.get("aud") != audience:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: iss or aud."}
        if "https://www.googleapis.com/auth/bigquery.readonly" not in claims.get("scope", "").split():
            return 400, {"error": "invalid_scope", "error_description": "The scope bigquery.readonly is missing."}
        if not claims.get("exp", 0) > now or claims["exp"] - claims.get("iat", 0) > 3600:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a short-lived token."}
        token = "ya29." + uuid.uuid4().hex
        with lock:
            tokens.add(token)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def run(request):
        """(status, job) of a query request."""
        if request.get("useLegacySql") is not False or request.get("parameterMode") != "NAMED":
            return 400, error(400, "INVALID_ARGUMENT", "Expected useLegacySql false and parameterMode NAMED.", "invalid")
        if request.get("location") != args.location:
            return 404, error(404, "NOT_FOUND", f"Not found: location {request.get('location')}", "notFound")
        params = {}
        for p in request.get("queryParameters") or []:
            value = (p.get("parameterValue") or {}).get("value")
            if (p.get("parameterType") or {}).get("type") != "DATE" or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)):
                return 400, error(400, "INVALID_ARGUMENT", f"Query parameter {p.get('name')} is not a DATE: {json.dumps(p)}")
            params[p["name"]] = value
        try:
            names, rows = data.query(request["query"], params)
        except sqlite3.Error as e:
            return 400, error(400, "INVALID_ARGUMENT", f"Syntax error: {e} at [1:1]")
        kinds = [kind_of(rows, i) for i in range(len(names))]
        fields = [{"name": n, "type": TYPES[k], "mode": "NULLABLE"} for n, k in zip(names, kinds)]
        cells = [{"f": [{"v": None if v is None else str(v)} for v in row]} for row in rows]
        return 200, {"fields": fields, "rows": cells, "page": min(args.page, int(request.get("maxResults") or args.page))}

    def page(job_id, job, start):
        end = start + job["page"]
        out = {
            "kind": "bigquery#queryResponse",
            "jobReference": {"projectId": args.project, "jobId": job_id, "location": args.location},
            "jobComplete": True,
            "schema": {"fields": job["fields"]},
            "totalRows": str(len(job["rows"])),
            "rows": job["rows"][start:end],
        }
        if end < len(job["rows"]):
            out["pageToken"] = str(end)
        return out

    def incomplete(job_id):
        reference = {"projectId": args.project, "jobId": job_id, "location": args.location}
        return {"kind": "bigquery#queryResponse", "jobReference": reference, "jobComplete": False}

    class BigQuery(Handler):
        def authorized(self):
            auth = self.headers.get("Authorization", "")
            with lock:
                ok = auth.startswith("Bearer ") and auth[7:] in tokens
            if not ok:
                self.json(401, error(401, "UNAUTHENTICATED", REFUSALS["401"][1], "authError"))
            return ok

        def do_POST(self):
            body = self.body()
            if self.path == "/token":
                script.log({"method": "POST", "path": self.path})
                audience = f"http://127.0.0.1:{self.server.server_address[1]}/token"
                return self.json(*grant(body, audience))
            if not self.authorized():
                return
            script.log({"method": "POST", "path": self.path, "body": json.loads(body or "null")})
            m = re.fullmatch(re.escape(root) + r"/jobs/([^/?]+)/cancel(\?.*)?", self.path)
            if m:
                with lock:
                    jobs.pop(m.group(1), None)
                return self.json(200, {"kind": "bigquery#jobCancelResponse"})
            if self.path != f"{root}/queries":
                return self.json(404, error(404, "NOT_FOUND", "Not found.", "notFound"))
            answer = script.next()
            if answer in REFUSALS:
                status, message = REFUSALS[answer]
                retry = {"Retry-After": args.retry_after} if answer != "401" else {}
                return self.json(int(answer), error(int(answer), status, message, "rateLimitExceeded"), retry)
            status, job = run(json.loads(body))
            if status != 200:
                return self.json(status, job)
            job_id = "job_" + uuid.uuid4().hex
            job["polls"] = {"pending": 1, "hang": None}.get(answer, 0)
            with lock:
                jobs[job_id] = job
            self.json(200, page(job_id, job, 0) if job["polls"] == 0 else incomplete(job_id))

        def do_GET(self):
            if not self.authorized():
                return
            script.log({"method": "GET", "path": self.path})
            url = urllib.parse.urlparse(self.path)
            query = urllib.parse.parse_qs(url.query)
            m = re.fullmatch(re.escape(root) + r"/queries/([^/]+)", url.path)
            with lock:
                job = jobs.get(m.group(1)) if m else None
                if job is None:
                    return self.json(404, error(404, "NOT_FOUND", "Not found: Job", "notFound"))
                if query.get("location") != [args.location]:
                    return self.json(404, error(404, "NOT_FOUND", "Not found: Job in this location", "notFound"))
                if job["polls"] is None or job["polls"] > 0:
                    if job["polls"]:
                        job["polls"] -= 1
                    return self.json(200, incomplete(m.group(1)))
                start = int(query.get("pageToken", ["0"])[0])
                self.json(200, page(m.group(1), job, start))

    serve(BigQuery)


if __name__ == "__main__":
    main()
