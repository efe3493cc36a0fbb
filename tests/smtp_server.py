#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) on 127.0.0.1 for Canopy's end-to-end tests.

  python3 tests/smtp_server.py --port PORT --maildir DIR [--tls CERT KEY] [--auth USER:PASS]
                               [--mode ok|tempfail|reject|stall|slowack] [--stall-after N]
                               [--ack-delay SECONDS]

Prints READY once listening, then serves until killed. Every accepted message is written to
DIR as NNNN.eml, with its envelope in NNNN.json. Modes inject faults: `tempfail` answers 451,
`reject` answers 550, `stall` accepts --stall-after messages and then never answers (touching
DIR/stalling when it starts to), so the client's timeout is exercised; `slowack` stores each
message, then waits --ack-delay seconds before its 250.
"""
import argparse
import asyncio
import json
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, maildir, mode, stall_after, ack_delay):
        self.maildir = maildir
        self.mode = mode
        self.stall_after = stall_after
        self.ack_delay = ack_delay

    def count(self):
        return len([f for f in os.listdir(self.maildir) if f.endswith(".eml")])

    async def handle_DATA(self, server, session, envelope):
        if self.mode == "tempfail":
            return "451 4.3.0 Temporary failure, try again later"
        if self.mode == "reject":
            return "550 5.7.1 Message rejected"
        if self.mode == "stall" and self.count() >= self.stall_after:
            open(os.path.join(self.maildir, "stalling"), "w").close()
            await asyncio.sleep(3600)
        n = self.count() + 1
        base = os.path.join(self.maildir, f"{n:04d}")
        with open(base + ".json", "w") as fh:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                       "auth": session.authenticated, "tls": session.ssl is not None}, fh)
        # Write the message last and atomically: its presence means "accepted".
        with open(base + ".eml.part", "wb") as fh:
            fh.write(envelope.original_content)
        os.rename(base + ".eml.part", base + ".eml")
        if self.mode == "slowack":
            await asyncio.sleep(self.ack_delay)
        return "250 2.0.0 OK"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--auth")
    ap.add_argument("--mode", default="ok",
                    choices=["ok", "tempfail", "reject", "stall", "slowack"])
    ap.add_argument("--stall-after", type=int, default=0)
    ap.add_argument("--ack-delay", type=float, default=2.5)
    a = ap.parse_args()
    os.makedirs(a.maildir, exist_ok=True)
    kwargs = {}
    if a.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*a.tls)
        kwargs.update(tls_context=context, require_starttls=True)
    if a.auth:
        user, password = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                and auth_data.password.decode() == password
            return AuthResult(success=ok)

        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(a.tls))
    controller = Controller(Handler(a.maildir, a.mode, a.stall_after, a.ack_delay), hostname="127.0.0.1",
                            port=a.port, **kwargs)
    controller.start()
    print("READY", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
