"""A Jira site for the tests: an HTTP server on 127.0.0.1 that counts the issues of a fixture
file by a small subset of JQL, answering as Jira's REST API does, or misbehaving by a script.

  python3 jira_server.py --issues FILE --user EMAIL --token TOKEN [--log FILE]
      [--script 200,429,...] [--retry-after SECONDS] [--hang SECONDS] [--data-center]

FILE is a JSON list of issues: {"key", "project", "type", "created"} with `created` an ISO
date and time in UTC. The JQL understood is clauses joined by AND: `project = X`,
`issuetype = X` (either may be quoted) and `created` compared (>=, >, <=, <) with a quoted
date "yyyy-MM-dd"; anything else is answered 400 with Jira's `errorMessages`.

Endpoints: POST /rest/api/3/search/approximate-count ({"jql"} -> {"count"}) as Jira Cloud,
and POST /rest/api/2/search ({"jql", "maxResults"} -> {"total", ...}) as Jira Data Center.
With --data-center the first answers 404, as on a Data Center site. Requests must carry Basic
authentication of --user and --token (else 401).

Each counting request takes the next answer of the script, then `200` for the rest: `200`
counts; `429` and `503` ask to retry after --retry-after seconds; `401`, `403` and `500`
refuse in Jira's words; `notjson` answers 200 with an HTML page; `hang` answers nothing for
--hang seconds, then closes. With --log, each counting request is written as one JSON line
(path and body). Prints `READY PORT` once listening.
"""

import argparse
import base64
import datetime
import json
import re
import time

from server_common import Handler, Script, serve

CLAUSE = re.compile(
    r'^\s*(project|issuetype|created)\s*(>=|<=|=|>|<)\s*("[^"]*"|\'[^\']*\'|[A-Za-z0-9_-]+)\s*$',
    re.IGNORECASE,
)

REFUSALS = {
    401: "Client must be authenticated to access this resource.",
    403: "You do not have permission to browse issues in this project.",
    500: "Internal server error",
}


class JqlError(Exception):
    pass


def unquote(text):
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def parse_date(text):
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise JqlError(f"Date value '{text}' for field 'created' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd'.")
    return datetime.datetime.fromisoformat(text + "T00:00:00+00:00")


def matcher(jql):
    """A predicate on issues for `jql`, or JqlError in Jira's words."""
    tests = []
    for clause in re.split(r"\s+and\s+", jql.strip(), flags=re.IGNORECASE):
        m = CLAUSE.match(clause)
        if not m:
            raise JqlError(f"Error in the JQL Query: Expecting a field or a clause but got '{clause.strip()}'.")
        field, op, raw = m.group(1).lower(), m.group(2), m.group(3)
        if field in ("project", "issuetype"):
            if op != "=":
                raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")
            key = "project" if field == "project" else "type"
            want = unquote(raw).lower()
            tests.append(lambda issue, key=key, want=want: issue[key].lower() == want)
        else:
            if raw[0] not in "\"'":
                raise JqlError(f"Error in the JQL Query: the date '{raw}' must be quoted.")
            bound = parse_date(unquote(raw))
            compare = {
                ">=": lambda a, b: a >= b,
                ">": lambda a, b: a > b,
                "<=": lambda a, b: a <= b,
                "<": lambda a, b: a < b,
            }[op]
            tests.append(lambda issue, c=compare, b=bound: c(created(issue), b))
    return lambda issue: all(t(issue) for t in tests)


def created(issue):
    return datetime.datetime.fromisoformat(issue["created"].replace("Z", "+00:00"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--issues", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--log")
    parser.add_argument("--script", default="")
    parser.add_argument("--retry-after", default="1")
    parser.add_argument("--hang", type=float, default=5.0)
    parser.add_argument("--data-center", action="store_true")
    args = parser.parse_args()
    with open(args.issues, encoding="utf-8") as f:
        issues = json.load(f)
    script = Script(args.script, args.log)
    expected = "Basic " + base64.b64encode(f"{args.user}:{args.token}".encode()).decode()

    class JiraHandler(Handler):
        def do_POST(self):
            body = self.body()
            cloud = self.path == "/rest/api/3/search/approximate-count"
            if not cloud and self.path != "/rest/api/2/search":
                return self.json(404, {"errorMessages": [f"null for uri: {self.path}"]})
            if cloud and args.data_center:
                return self.json(404, {"errorMessages": [f"null for uri: {self.path}"]})
            if self.headers.get("Authorization") != expected:
                return self.json(401, {"errorMessages": [REFUSALS[401]], "errors": {}})
            answer = script.next()
            script.log({"path": self.path, "body": body})
            self.answer(answer, cloud, body)

        def answer(self, answer, cloud, body):
            if answer == "hang":
                time.sleep(args.hang)
                self.close_connection = True
                return
            if answer in ("429", "503"):
                return self.json(int(answer), {"errorMessages": ["Rate limit exceeded."]}, {"Retry-After": args.retry_after})
            if answer in ("401", "403", "500"):
                return self.json(int(answer), {"errorMessages": [REFUSALS[int(answer)]], "errors": {}})
            if answer == "notjson":
                return self.send(200, b"<html><body>Atlassian Cloud: down for maintenance</body></html>", "text/html")
            try:
                jql = json.loads(body)["jql"]
                wanted = matcher(jql)
            except JqlError as e:
                return self.json(400, {"errorMessages": [str(e)], "errors": {}})
            except (ValueError, KeyError, TypeError):
                return self.json(400, {"errorMessages": ["The request body is not valid."], "errors": {}})
            count = sum(1 for issue in issues if wanted(issue))
            if cloud:
                return self.json(200, {"count": count})
            self.json(200, {"startAt": 0, "maxResults": 0, "total": count, "issues": []})

    serve(JiraHandler)


if __name__ == "__main__":
    main()
