"""What the loopback test servers share. All of them (databricks_server.py,
bigquery_server.py, snowflake_server.py, posthog_server.py, jira_server.py): a script of
misbehaviours, a log of requests, a JSON HTTP handler and `serve`. The cloud warehouses': the
data, loaded into SQLite and queried for real with the statement's own bound parameters; and
RS256 (RSA PKCS#1 v1.5 with SHA-256) in pure Python, to make the test's key pair
and to verify the tokens a client signs with it, so that no package beyond Python is needed.

The data file is a JSON list of {"day": "YYYY-MM-DD", "plan": TEXT, "n": INTEGER}, loaded as
the table `events(day, plan, n)`.
"""

import base64
import hashlib
import json
import random
import re
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Data:
    """The events in an in-memory SQLite, queried by one thread at a time."""

    def __init__(self, path):
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.lock = threading.Lock()
        with open(path, encoding="utf-8") as f:
            events = json.load(f)
        self.db.execute("create table events (day text, plan text, n integer)")
        self.db.executemany(
            "insert into events values (:day, :plan, :n)", events
        )

    def query(self, sql, params):
        """(column names, rows) of `sql` with `params` bound by SQLite, or sqlite3.Error."""
        with self.lock:
            cursor = self.db.execute(sql, params)
            rows = cursor.fetchall()
            names = [d[0] for d in cursor.description or []]
        return names, rows


def kind_of(rows, i):
    """What column `i` holds: "int", "float", "date" or "text", by its first value."""
    for row in rows:
        value = row[i]
        if value is None:
            continue
        if isinstance(value, bool) or isinstance(value, int):
            return "int"
        if isinstance(value, float):
            return "float"
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return "date"
        return "text"
    return "int"


class Script:
    """The answers a server gives in order (then `200` for the rest), and its request log."""

    def __init__(self, text, log):
        self.answers = [s for s in text.split(",") if s]
        self.log_path = log
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            return self.answers.pop(0) if self.answers else "200"

    def log(self, entry):
        if self.log_path:
            with self.lock, open(self.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    """A JSON HTTP handler: `body()` reads the request, `json()` answers."""

    def body(self):
        length = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(length).decode("utf-8")

    def json(self, code, value, headers=None):
        self.send(code, json.dumps(value).encode(), "application/json", headers)

    def send(self, code, data, kind, headers=None):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


def serve(handler):
    """Serves `handler` on a free loopback port, printing `READY PORT` once listening."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


# RSA, for the key-pair logins.


def _probable_prime(bits):
    while True:
        n = random.getrandbits(bits) | (1 << (bits - 1)) | 1
        if all(n % p for p in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)) and _miller_rabin(n):
            return n


def _miller_rabin(n, rounds=40):
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(random.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _der(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + head + content


def _int(v):
    raw = v.to_bytes(v.bit_length() // 8 + 1, "big")
    return _der(0x02, raw)


RSA_ALGORITHM = bytes.fromhex("300d06092a864886f70d0101010500")


def new_key(bits=2048):
    """A fresh RSA key: its PKCS#8 PEM, the public (n, e), and the private exponent d."""
    e = 65537
    while True:
        p, q = _probable_prime(bits // 2), _probable_prime(bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e and (p * q).bit_length() == bits:
            break
    n, d = p * q, pow(e, -1, (p - 1) * (q - 1))
    fields = [0, n, e, d, p, q, d % (p - 1), d % (q - 1), pow(q, -1, p)]
    rsa = _der(0x30, b"".join(_int(v) for v in fields))
    pkcs8 = _der(0x30, _int(0) + RSA_ALGORITHM + _der(0x04, rsa))
    body = base64.encodebytes(pkcs8).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    pem = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n"
    return pem, (n, e), d


def fingerprint(public):
    """`SHA256:` and the base64 SHA-256 of the key's DER SubjectPublicKeyInfo."""
    n, e = public
    rsa = _der(0x30, _int(n) + _int(e))
    spki = _der(0x30, RSA_ALGORITHM + _der(0x03, b"\x00" + rsa))
    return "SHA256:" + base64.b64encode(hashlib.sha256(spki).digest()).decode()


def _b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# The DER prefix of a SHA-256 DigestInfo (RFC 8017, section 9.2).
SHA256_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def verify_jwt(token, public):
    """The (header, claims) of an RS256 `token` signed by the key of `public`, or ValueError."""
    n, e = public
    try:
        head, body, sig = token.split(".")
        header, claims = json.loads(_b64url(head)), json.loads(_b64url(body))
        signature = int.from_bytes(_b64url(sig), "big")
    except (ValueError, TypeError) as err:
        raise ValueError(f"not a JWT: {err}") from None
    if header.get("alg") != "RS256":
        raise ValueError(f"alg {header.get('alg')!r}, expected RS256")
    size = (n.bit_length() + 7) // 8
    digest = hashlib.sha256(f"{head}.{body}".encode()).digest()
    info = SHA256_INFO + digest
    expected = b"\x00\x01" + b"\xff" * (size - len(info) - 3) + b"\x00" + info
    if pow(signature, e, n).to_bytes(size, "big") != expected:
        raise ValueError("the signature does not match the public key")
    return header, claims


def sign_jwt(header, claims, private):
    """An RS256 token of `header` and `claims`, signed by the key `private` ({"n", "d"})."""
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    n, d = int(private["n"]), int(private["d"])
    size = (n.bit_length() + 7) // 8
    signing_input = f"{part(header)}.{part(claims)}"
    info = SHA256_INFO + hashlib.sha256(signing_input.encode()).digest()
    padded = b"\x00\x01" + b"\xff" * (size - len(info) - 3) + b"\x00" + info
    signature = pow(int.from_bytes(padded, "big"), d, n).to_bytes(size, "big")
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def write_key(folder):
    """Writes a new key pair to `folder`: key.pem (PKCS#8), public.json ({"n", "e"}) and, for
    a client written in Python, private.json ({"n", "d"})."""
    pem, (n, e), d = new_key()
    with open(f"{folder}/key.pem", "w", encoding="utf-8") as f:
        f.write(pem)
    with open(f"{folder}/public.json", "w", encoding="utf-8") as f:
        json.dump({"n": str(n), "e": e}, f)
    with open(f"{folder}/private.json", "w", encoding="utf-8") as f:
        json.dump({"n": str(n), "d": str(d)}, f)


def read_public(path):
    with open(path, encoding="utf-8") as f:
        value = json.load(f)
    return int(value["n"]), int(value["e"])


if __name__ == "__main__":
    import sys

    write_key(sys.argv[1])
