"""How forwards and alerts leave: SMTP (the only module that imports smtplib) or local Maildirs.

Both senders have one method, ``send(raw, sender, recipients)``, which either
hands the message over completely or raises `DeliveryError`, whose message
names the server (``host:port``) or folder and the problem, never the password.
`make_sender` picks the sender that ``[delivery]`` configures.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import socket
import ssl
import threading
import time
import uuid
from pathlib import Path
from typing import Protocol

from triage.config import Delivery
from triage.errors import ConfigError, DeliveryError

log = logging.getLogger(__name__)


class Sender(Protocol):
    def send(self, raw: bytes, sender: str, recipients: list[str]) -> str:
        """Hand ``raw`` over for ``recipients``; a short detail for the ledger. Raises `DeliveryError`."""


def make_sender(delivery: Delivery) -> Sender:
    """The sender that ``delivery.kind`` names: `SmtpSender` or `MaildirSender`."""
    if delivery.kind == "maildir":
        return MaildirSender(delivery)
    return SmtpSender(delivery)


class SmtpSender:
    """Sends over SMTP: implicit TLS (``tls``), ``starttls`` or plain (``none``), with AUTH when a username is set.

    Certificates are verified against the system's CAs or ``ca_file`` unless
    ``verify = false``. Every network operation has ``delivery.timeout``. One
    connection per message: forwards are rare and a kept connection would
    only go stale between them.
    """

    def __init__(self, delivery: Delivery) -> None:
        if delivery.security not in ("tls", "starttls", "none"):
            raise ValueError(f"unknown SMTP security {delivery.security!r}")
        self.delivery = delivery
        self.where = f"{delivery.host}:{delivery.port}"

    def _context(self) -> ssl.SSLContext:
        try:
            context = ssl.create_default_context(cafile=str(self.delivery.ca_file) if self.delivery.ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryError(f"SMTP {self.where}: cannot load CA file {self.delivery.ca_file}: {exc}") from None
        if not self.delivery.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> str:
        if not recipients:
            raise ValueError("no recipients")
        password = self._password()
        started = time.monotonic()
        smtp: smtplib.SMTP | None = None
        accepted = False
        try:
            smtp = self._connect()
            if self.delivery.username:
                smtp.login(self.delivery.username, password)
            smtp.ehlo_or_helo_if_needed()
            options = ["BODY=8BITMIME"] if not raw.isascii() and smtp.has_extn("8bitmime") else []
            refused = smtp.sendmail(sender, recipients, raw, mail_options=options)
            accepted = True
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(self._scrub(f"SMTP {self.where}: every recipient refused: "
                                            f"{_refusals(exc.recipients)}", password)) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(self._scrub(f"SMTP {self.where}: {_what(exc)}: {exc.smtp_code} "
                                            f"{_text(exc.smtp_error)}", password)) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(self._scrub(f"SMTP {self.where}: {_what(exc)}: {exc}", password)) from None
        finally:
            if smtp is not None and accepted:
                # The server has taken the message: hang up without waiting for QUIT's reply, so the
                # caller records the hand-off at once (a crash in between would send it again).
                smtp.close()
            elif smtp is not None:
                _quit(smtp)
        detail = f"smtp {self.where} accepted for {', '.join(r for r in recipients if r not in refused)}"
        if refused:
            # Some recipients took it: sending again would duplicate it for them, so this is not an error to retry.
            log.warning("SMTP %s refused some recipients: %s", self.where, _refusals(refused))
            detail += f"; refused {_refusals(refused)}"
        log.debug("SMTP %s: sent %d bytes in %.2f s", self.where, len(raw), time.monotonic() - started)
        return detail

    def _password(self) -> str:
        if not self.delivery.username:
            return ""
        try:
            return self.delivery.password.read()
        except ConfigError as exc:
            raise DeliveryError(f"SMTP {self.where}: no password for {self.delivery.username}: {exc}") from None

    def _connect(self) -> smtplib.SMTP:
        d = self.delivery
        local = _ehlo_name()
        if d.security == "tls":
            return smtplib.SMTP_SSL(d.host, d.port, local_hostname=local, timeout=d.timeout, context=self._context())
        smtp = smtplib.SMTP(d.host, d.port, local_hostname=local, timeout=d.timeout)
        try:
            if d.security == "starttls":
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(f"SMTP {self.where}: server does not offer STARTTLS")
                smtp.starttls(context=self._context())
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _scrub(self, text: str, password: str) -> str:
        return text.replace(password, "***") if password else text


def _ehlo_name() -> str:
    """The name to greet with: the host name if it is qualified (no DNS look-up, which may hang)."""
    name = socket.gethostname()
    return name if "." in name else "localhost.localdomain"


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


# What went wrong, most specific first (several are subclasses of the later ones).
_FAILURES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (smtplib.SMTPAuthenticationError, "login refused"),
    (smtplib.SMTPNotSupportedError, "not supported by the server"),
    (smtplib.SMTPSenderRefused, "sender refused"),
    (smtplib.SMTPDataError, "message refused"),
    (smtplib.SMTPConnectError, "cannot connect"),
    (smtplib.SMTPServerDisconnected, "connection lost"),
    (ssl.SSLCertVerificationError, "certificate not trusted"),
    (ssl.SSLError, "TLS failed"),
    ((socket.timeout, TimeoutError), "timed out"),
    (ConnectionRefusedError, "connection refused"),
    (OSError, "network error"),
)


def _what(exc: BaseException) -> str:
    return next((text for kind, text in _FAILURES if isinstance(exc, kind)), "SMTP error")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{rcpt} ({code} {_text(msg)})" for rcpt, (code, msg) in refused.items())


class MaildirSender:
    """Delivers into one Maildir per recipient address under ``delivery.maildir_root``: needs no server.

    Each message is written to ``tmp/``, synced, and renamed into ``new/``, so
    a reader never sees half a message.
    """

    _counter = 0
    _counter_lock = threading.Lock()

    def __init__(self, delivery: Delivery) -> None:
        if delivery.maildir_root is None:
            raise ValueError("delivery.maildir_root is not set")
        self.root = Path(delivery.maildir_root)

    def folder_for(self, address: str) -> Path:
        """The Maildir of one address (its name made safe for a file system)."""
        name = re.sub(r"[^a-z0-9@._+-]", "_", address.strip().lower()).strip(".")
        if not name or name in (".", ".."):
            raise DeliveryError(f"Maildir {self.root}: unusable recipient address {address!r}")
        return self.root / name

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> str:
        if not recipients:
            raise ValueError("no recipients")
        names = []
        for address in recipients:
            folder = self.folder_for(address)
            try:
                names.append(str(_deliver(folder, raw)))
            except OSError as exc:
                raise DeliveryError(f"Maildir {folder}: cannot deliver: {exc.strerror or exc}") from None
        return "maildir " + ", ".join(names)

    @classmethod
    def _unique(cls) -> str:
        with cls._counter_lock:
            cls._counter += 1
            counter = cls._counter
        now = time.time()
        host = socket.gethostname().replace("/", "\\057").replace(":", "\\072") or "localhost"
        return f"{int(now)}.M{int(now * 1e6) % 1_000_000}P{os.getpid()}Q{counter}R{uuid.uuid4().hex[:12]}.{host}"


def _deliver(folder: Path, raw: bytes) -> Path:
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    name = MaildirSender._unique()
    tmp = folder / "tmp" / name
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        target = folder / "new" / name
        os.rename(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    directory = os.open(folder / "new", os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return target
