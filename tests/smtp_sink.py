"""A real SMTP server for tests: aiosmtpd on a loopback port that keeps what it receives.

Use the ``smtp_sink`` fixture (plain SMTP, started) or build a `SmtpSink`
with STARTTLS, implicit TLS or AUTH. ``stop()`` and ``start()`` simulate an
outage: the sink comes back on the same port. ``tls_files`` makes a
self-signed certificate for 127.0.0.1 with ``openssl`` once per session.

Import the fixtures into a test module to use them:
``from smtp_sink import smtp_sink, tls_files``.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on the loopback that nobody listens on right now (aiosmtpd cannot use port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    """One message as the sink got it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    mail_options: list[str] = field(default_factory=list)
    tls: bool = False
    login: str | None = None


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self.sink.received.append(Received(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            content=envelope.original_content or envelope.content,
            mail_options=list(envelope.mail_options),
            tls=session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            login=login,
        ))
        return "250 2.0.0 OK: queued"


class SmtpSink:
    """An aiosmtpd server on ``127.0.0.1:port``.

    ``starttls``: a server TLS context offered via STARTTLS; ``implicit_tls``:
    a context for TLS from the first byte (SMTPS); ``users``: login → password
    accepted by AUTH (offered only after STARTTLS unless ``auth_without_tls``).
    """

    def __init__(self, *, starttls: ssl.SSLContext | None = None, implicit_tls: ssl.SSLContext | None = None,
                 users: dict[str, str] | None = None, auth_without_tls: bool = False) -> None:
        self.host = HOST
        self.port = free_port()
        self.received: list[Received] = []
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.users = users
        self.auth_without_tls = auth_without_tls
        self._controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and self.users is not None
              and self.users.get(auth_data.login.decode()) == auth_data.password.decode())
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Start (again) on the same port."""
        if self._controller is not None:
            return
        kwargs = {}
        if self.starttls is not None:
            kwargs["tls_context"] = self.starttls
        if self.users is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = not self.auth_without_tls
        controller = Controller(_Handler(self), hostname=self.host, port=self.port, ssl_context=self.implicit_tls,
                                server_hostname="sink.test", ready_timeout=5.0, **kwargs)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening (an outage); received messages are kept."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert), str(self.key))
        return context


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate (and its key) for 127.0.0.1 and localhost, made by openssl."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=30,
    )
    return TlsFiles(cert, key)


@pytest.fixture
def smtp_sink():
    """A started plain SMTP sink (no TLS, no AUTH), stopped after the test."""
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
