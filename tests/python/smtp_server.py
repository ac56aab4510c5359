#!/usr/bin/env python3
"""A real SMTP server on loopback for cutover's email-channel tests (aiosmtpd).

Usage: smtp_server.py DIR MODE [USER]
  MODE: "starttls" (offers and requires STARTTLS), "plain" (offers no STARTTLS),
        "tls" (implicit TLS from the first byte).
  USER: require SMTP AUTH as USER, with the password in $SMTP_TEST_PASSWORD.
Writes DIR/ca.pem (a throwaway CA that signed the server's certificate for 127.0.0.1 and
localhost), then DIR/port once listening. Each message received is saved as DIR/mail-N.eml,
with DIR/mail-N.json saying whether the session was encrypted and who logged in. Runs until
its standard input closes or it gets SIGTERM.
"""
import json
import os
import signal
import socket
import ssl
import sys
import threading

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Saver:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.directory, f"mail-{self.count}")
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".json", "w") as f:
            json.dump(
                {
                    # STARTTLS sets session.ssl; implicit TLS shows on the transport.
                    "encrypted": session.ssl is not None
                    or server.transport.get_extra_info("ssl_object") is not None,
                    "login": bool(session.authenticated),
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                },
                f,
            )
        return "250 OK"


def main():
    directory, mode = sys.argv[1], sys.argv[2]
    user = sys.argv[3] if len(sys.argv) > 3 else None
    password = os.environ.get("SMTP_TEST_PASSWORD", "")

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(os.path.join(directory, "ca.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok)

    kwargs = {}
    if user:
        kwargs.update(authenticator=authenticator, auth_required=True)
    if mode == "starttls":
        kwargs.update(tls_context=context, require_starttls=True, auth_require_tls=True)
    elif mode == "tls":
        kwargs.update(ssl_context=context)
    else:
        kwargs.update(auth_require_tls=False)
    port = free_port()
    controller = Controller(Saver(directory), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    with open(os.path.join(directory, "port.tmp"), "w") as f:
        f.write(str(port))
    os.rename(os.path.join(directory, "port.tmp"), os.path.join(directory, "port"))

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
