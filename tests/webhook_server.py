"""A chat webhook receiver for the tests: an HTTP server on 127.0.0.1 that answers POSTs by a
script, one answer per request, then 200 for the rest.

  python3 webhook_server.py --log FILE [--script 500,hang,200,...] [--hang SECONDS]

`200` reads the message and records it (one JSON line in FILE: path, headers by lower-case
name, body) before
answering; `500` answers 500 without recording; `hang` reads nothing and answers nothing for
--hang seconds, then closes. Prints `READY PORT` once listening.
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--script", default="")
    parser.add_argument("--hang", type=float, default=5.0)
    args = parser.parse_args()
    script = [s for s in args.script.split(",") if s]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            with lock:
                answer = script.pop(0) if script else "200"
            if answer == "hang":
                time.sleep(args.hang)
                self.close_connection = True
                return
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode("utf-8")
            if answer == "200":
                headers = {k.lower(): v for k, v in self.headers.items()}
                record = {"path": self.path, "headers": headers, "body": body}
                with lock, open(args.log, "a", encoding="utf-8") as log:
                    log.write(json.dumps(record) + "\n")
                self.reply(200, b"ok")
            else:
                self.reply(int(answer), b"try later")

        def reply(self, code, text):
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
