"""An IMAP inbox: `ImapMailbox` speaks the `triage.mailbox.Mailbox` protocol through imapclient.

The only module of triage that imports imapclient. What it promises beyond the protocol:

- Transport: ``security = "tls"`` (IMAPS) or ``"starttls"`` verify the server certificate
  and host name against ``inbox.ca_file`` (or the system's CAs); ``verify = false`` turns
  that off (logged as a warning). STARTTLS never falls back to plain text. ``"none"`` is
  plain text. ``inbox.timeout`` bounds the connect, the TLS handshake and every read.
- Secrets: the password is read from ``inbox.password`` at each `connect` and is never
  logged; a filter on imapclient's loggers redacts it even at DEBUG level.
- Errors: every imapclient, socket and TLS error becomes `MailboxError` naming the inbox,
  host:port and what failed. A lost or timed-out connection is closed and dropped:
  later calls raise "not connected" until `connect` succeeds again.
- Message references carry the folder's UIDVALIDITY; a reference from another
  UIDVALIDITY is refused rather than applied to whatever message has that UID now.
- Folder names use ``/`` as the hierarchy separator (``Triaged/support``); they are
  translated to the server's own separator and personal namespace prefix (read from the
  server), and missing folders are created parent first and subscribed.
- `untriaged` lists messages without ``$Triaged`` that are not ``\\Deleted``, by UID
  (arrival order). `fetch` uses ``BODY.PEEK`` (\\Seen is never set).
- `mark` and `move` are idempotent: a message that is already gone is logged, not an error.
- `move` uses MOVE; without it COPY + \\Deleted + UID EXPUNGE (plain EXPUNGE only when the
  server lacks UIDPLUS too).
- `wait` uses IDLE (renewed every ``idle_renew`` seconds, at most 29 minutes; keep-alives
  ignored) when the server offers it and ``inbox.idle`` is true, otherwise (or when the
  server refuses IDLE) it polls every ``inbox.poll_interval`` seconds.
- Caller bugs are not `MailboxError`: an invalid keyword or flag raises `ValueError`; a
  missing password variable or file raises `triage.errors.ConfigError` from `connect`.
"""

from __future__ import annotations

import logging
import os
import re
import selectors
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import imapclient
from imapclient import exceptions as imap_errors

from triage.config import Inbox
from triage.errors import MailboxError
from triage.mailbox import TRIAGED_KEYWORD, MessageRef, header_values, message_id_of

log = logging.getLogger(__name__)

IDLE_RENEW_DEFAULT = 600.0  # seconds: renew IDLE well before NAT boxes or the server forget us
IDLE_RENEW_MAX = 29 * 60.0  # RFC 2177: servers may drop an IDLE client after 30 minutes
FETCH_BATCH = 500  # UIDs per FETCH command in `untriaged`
CONTAINS_CHECK_MAX = 50  # candidate messages whose header `contains` compares exactly

_IMAPCLIENT_LOGGERS = ("imapclient", "imapclient.imapclient", "imapclient.imaplib", "imapclient.util")
_FLAGGED = "\\Flagged"
_DELETED = "\\Deleted"
_NOT_SELECTABLE = {b"\\NOSELECT", b"\\NONEXISTENT"}
# An IMAP atom: no space, no list/quote/wildcard/literal characters, no controls.
_KEYWORD = re.compile(r"^\\?[^\s(){}%*\"\\\]\x00-\x1f\x7f]+$")


class _Redactor(logging.Filter):
    """Replaces known secrets in log records (imapclient logs raw protocol lines at DEBUG)."""

    def __init__(self) -> None:
        super().__init__("triage-redactor")
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if secret:
            quoted = secret.replace("\\", "\\\\").replace('"', '\\"')
            forms = {secret, quoted}
            forms |= {repr(form.encode("utf-8"))[2:-1] for form in (secret, quoted)}
            self._secrets |= forms

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, "**REDACTED**")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            try:
                message = record.getMessage()
            except Exception:  # a broken record is not ours to fix
                return True
            redacted = self.redact(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


_redactor = _Redactor()
for _name in (*_IMAPCLIENT_LOGGERS, __name__):
    if _redactor not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_redactor)


def folder_chain(folder: str, separator: str | None, prefix: str = "") -> list[str]:
    """Server names of ``folder`` (``/``-separated) and of its parents, outermost first.

    ``separator`` and ``prefix`` are the server's hierarchy separator and personal
    namespace prefix: ``folder_chain("Triaged/support", ".", "INBOX.")`` gives
    ``["INBOX.Triaged", "INBOX.Triaged.support"]``. ``INBOX`` is always ``["INBOX"]``.
    Raises `ValueError` for names the server could not represent.
    """
    parts = folder.strip("/").split("/")
    if not folder.strip("/") or any(not part.strip() for part in parts):
        raise ValueError(f"not a folder name: {folder!r}")
    if len(parts) == 1 and parts[0].upper() == "INBOX":
        return ["INBOX"]
    if not separator:
        if len(parts) > 1:
            raise ValueError(f"the server has no folder hierarchy, so {folder!r} cannot be created")
        separator = "/"
    if separator != "/" and any(separator in part for part in parts):
        raise ValueError(f"folder {folder!r} contains the server's hierarchy separator {separator!r}")
    if prefix and (separator.join(parts) + separator).startswith(prefix):
        parts = (separator.join(parts)[len(prefix):]).split(separator)  # already carries the prefix
    return [prefix + separator.join(parts[: i + 1]) for i in range(len(parts))]


def _section(item: dict, prefix: bytes) -> bytes | None:
    """A FETCH response value by key prefix (servers echo section names in their own spelling)."""
    for key, value in item.items():
        if isinstance(key, bytes) and key.upper().startswith(prefix):
            return value if isinstance(value, bytes) else None
    return None


def _is_new_mail(responses: Sequence) -> bool:
    """Whether unsolicited responses (IDLE, NOOP) announce mail: EXISTS, or RECENT above zero."""
    for response in responses:
        if isinstance(response, tuple) and len(response) >= 2 and isinstance(response[0], int):
            kind = response[1]
            if kind == b"EXISTS" or (kind == b"RECENT" and response[0] > 0):
                return True
    return False


class ImapMailbox:
    """One IMAP inbox (see the module docstring). Not thread-safe: one instance per worker."""

    def __init__(self, inbox: Inbox, idle_renew: float = IDLE_RENEW_DEFAULT) -> None:
        if inbox.kind != "imap":
            raise ValueError(f"inbox {inbox.name} is of kind {inbox.kind!r}, not imap")
        if inbox.security not in ("tls", "starttls", "none"):
            raise ValueError(f"inbox {inbox.name}: unknown security {inbox.security!r}")
        self.inbox = inbox
        self.name = inbox.name
        self.idle_renew = max(0.1, min(float(idle_renew), IDLE_RENEW_MAX))
        self._client: imapclient.IMAPClient | None = None
        self._uidvalidity_before: int | None = None  # of the previous session, to log a change
        self._where = f"inbox {inbox.name} ({inbox.host}:{inbox.port})"
        self._interrupted = threading.Event()
        self._wake_lock = threading.Lock()
        self._wake: tuple[int, int] | None = None  # a pipe that ends an IDLE wait early (see interrupt)
        self._reset_session()

    def _reset_session(self) -> None:
        self._uidvalidity: int | None = None
        self._capabilities: frozenset[bytes] = frozenset()
        self._hierarchy: tuple[str | None, str] | None = None
        self._known_folders: set[str] = set()
        self._idle_refused = False
        self._pending_new = False
        self._last_poll = time.monotonic()

    # ---- connection --------------------------------------------------------------------------

    def connect(self) -> None:
        """Open a new connection (closing any old one), log in and select the inbox folder."""
        self.close()
        inbox = self.inbox
        password = inbox.password.read()
        _redactor.add(password)
        step = "connect"
        client = None
        try:
            context = self._tls_context() if inbox.security != "none" else None
            client = imapclient.IMAPClient(
                inbox.host, port=inbox.port, ssl=inbox.security == "tls", ssl_context=context,
                timeout=inbox.timeout,
            )
            if inbox.security == "starttls":
                step = "STARTTLS"
                client.starttls(context)
            step = f"login as {inbox.username}"
            client.login(inbox.username, password)
            step = f"select {inbox.folder}"
            self._client = client
            previous = self._uidvalidity
            self._reset_session()
            self._uidvalidity_before = previous
            self._capabilities = frozenset(bytes(c).upper() for c in client.capabilities())
            self._select_inbox()
        except BaseException as exc:
            self._client = None
            if client is not None:
                _shutdown(client)
            if isinstance(exc, (imap_errors.IMAPClientError, OSError, ValueError)):
                raise self._error(step, exc) from exc
            raise
        log.info("inbox=%s connected to %s:%s (%s) folder=%s uidvalidity=%s", self.name, inbox.host, inbox.port,
                 inbox.security, inbox.folder, self._uidvalidity)

    def interrupt(self) -> None:
        """End a `wait` in progress (or the next one) at once; safe from any thread."""
        self._interrupted.set()
        with self._wake_lock:
            if self._wake is not None:
                try:
                    os.write(self._wake[1], b"x")
                except OSError:
                    pass

    def close(self) -> None:
        """Log out quietly; safe to call twice or after the connection broke."""
        with self._wake_lock:
            wake, self._wake = self._wake, None
        if wake is not None:
            for fd in wake:
                os.close(fd)
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            _shutdown(client)
        log.debug("inbox=%s connection closed", self.name)

    def _tls_context(self) -> ssl.SSLContext:
        inbox = self.inbox
        if not inbox.verify:
            log.warning("inbox=%s TLS certificate verification is turned off (verify = false)", self.name)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            cafile = str(inbox.ca_file) if inbox.ca_file else None
            try:
                context = ssl.create_default_context(cafile=cafile)
            except (OSError, ssl.SSLError) as exc:
                raise MailboxError(f"{self._where}: cannot read CA file {cafile}: {exc}") from exc
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def _select_inbox(self) -> None:
        client = self._conn()
        info = client.select_folder(self.inbox.folder)
        validity = info.get(b"UIDVALIDITY")
        if not isinstance(validity, int):
            raise imap_errors.IMAPClientError(f"SELECT {self.inbox.folder} gave no UIDVALIDITY")
        before = self._uidvalidity if self._uidvalidity is not None else self._uidvalidity_before
        if before is not None and validity != before:
            log.warning("inbox=%s UIDVALIDITY changed from %s to %s: UIDs were renumbered", self.name, before, validity)
        self._uidvalidity = validity
        self._take_new_mail_notices()  # SELECT's own EXISTS/RECENT are not news

    def _conn(self) -> imapclient.IMAPClient:
        if self._client is None:
            raise MailboxError(f"{self._where}: not connected")
        return self._client

    def _has(self, capability: str) -> bool:
        return capability.encode("ascii").upper() in self._capabilities

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _shutdown(client)

    @contextmanager
    def _op(self, what: str, fatal: bool = False) -> Iterator[imapclient.IMAPClient]:
        """Run one operation on the connection and translate failures into `MailboxError`.

        A lost or timed-out connection is dropped; with ``fatal`` (IDLE, where the protocol
        state is unknown after any error) every failure drops it.
        """
        client = self._conn()
        try:
            yield client
        except MailboxError:
            raise
        except (imap_errors.IMAPClientAbortError, OSError, EOFError) as exc:
            # The connection is gone or in an unknown state (timeout): never reuse it.
            self._drop()
            raise self._error(what, exc) from exc
        except imap_errors.IMAPClientError as exc:  # the server said NO or BAD; the session lives on
            if fatal:
                self._drop()
            raise self._error(what, exc) from exc

    def _error(self, what: str, exc: BaseException) -> MailboxError:
        if isinstance(exc, ssl.SSLCertVerificationError):
            detail = f"TLS certificate not accepted: {exc.verify_message or exc}"
        elif isinstance(exc, TimeoutError):
            detail = f"no answer within {self.inbox.timeout:g} s"
        elif isinstance(exc, ConnectionRefusedError):
            detail = "connection refused"
        elif isinstance(exc, imap_errors.CapabilityError) and what == "STARTTLS":
            detail = "the server does not offer STARTTLS"
        else:
            detail = str(exc) or type(exc).__name__
        if isinstance(exc, imap_errors.IMAPClientAbortError) and "EOF" in detail:
            detail = f"the server closed the connection ({detail})"
        return MailboxError(_redactor.redact(f"{self._where}: {what} failed: {detail}"))

    # ---- protocol ----------------------------------------------------------------------------

    def uidvalidity(self) -> int:
        """The UIDVALIDITY of the inbox folder as of the last SELECT (each `connect` selects anew)."""
        self._conn()
        return self._uidvalidity or 0

    def untriaged(self) -> list[MessageRef]:
        """Messages without ``$Triaged`` (and not \\Deleted), by UID: oldest first."""
        with self._op("search for untriaged mail") as client:
            self._take_new_mail_notices()
            self._pending_new = False
            self._last_poll = time.monotonic()
            uids = sorted(client.search(["UNKEYWORD", TRIAGED_KEYWORD, "UNDELETED"]))
            refs = []
            for start in range(0, len(uids), FETCH_BATCH):
                batch = uids[start:start + FETCH_BATCH]
                data = client.fetch(batch, ["RFC822.SIZE", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
                for uid in batch:
                    item = data.get(uid)
                    if item is None:  # expunged meanwhile
                        continue
                    header = _section(item, b"BODY[HEADER.FIELDS") or b""
                    refs.append(MessageRef(self.name, self._uidvalidity or 0, str(uid),
                                           int(item.get(b"RFC822.SIZE", 0)), message_id_of(header)))
        log.debug("inbox=%s %d untriaged message(s)", self.name, len(refs))
        return refs

    def fetch(self, ref: MessageRef, limit: int | None = None) -> bytes:
        """The raw message, read with BODY.PEEK (\\Seen stays as it was).

        With ``limit``: the whole message when it has at most ``limit`` bytes, otherwise
        only its header section (``BODY.PEEK[HEADER]``); either way the server never sends
        more than ``limit`` bytes (partial fetch).
        """
        uid = self._uid(ref)
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be positive, not {limit}")
        with self._op(f"fetch uid {uid}") as client:
            size = ref.size
            if limit is not None and size <= 0:
                item = client.fetch([uid], ["RFC822.SIZE"]).get(uid) or {}
                size = int(item.get(b"RFC822.SIZE", 0))
            if limit is None:
                wanted, prefix = "BODY.PEEK[]", b"BODY[]"
            elif size <= limit:
                wanted, prefix = f"BODY.PEEK[]<0.{limit}>", b"BODY[]"
            else:
                wanted, prefix = f"BODY.PEEK[HEADER]<0.{limit}>", b"BODY[HEADER]"
                log.info("inbox=%s uid=%s message_id=%s has %s bytes (limit %s): reading its header only",
                         self.name, uid, ref.message_id, size, limit)
            item = client.fetch([uid], [wanted]).get(uid)
            raw = _section(item, prefix) if item else None
            if raw is None:
                raise MailboxError(f"{self._where}: fetch uid {uid} failed: the message is no longer in "
                                   f"{self.inbox.folder}")
        return raw

    def mark(self, ref: MessageRef, keywords: list[str], flagged: bool = False) -> None:
        uid = self._uid(ref)
        flags = [_checked_keyword(k) for k in keywords] + ([_FLAGGED] if flagged else [])
        if not flags:
            return
        with self._op(f"mark uid {uid}") as client:
            result = client.add_flags([uid], flags)
            # A server may leave out the FETCH reply when nothing changed: ask before calling it gone.
            present = uid in result or bool(client.fetch([uid], ["FLAGS"]))
        if not present:
            log.warning("inbox=%s uid=%s message_id=%s is no longer in %s: not marked", self.name, uid,
                        ref.message_id, self.inbox.folder)
        else:
            log.debug("inbox=%s uid=%s message_id=%s marked %s", self.name, uid, ref.message_id, " ".join(flags))

    def move(self, ref: MessageRef, folder: str) -> None:
        uid = self._uid(ref)
        with self._op(f"move uid {uid} to {folder}") as client:
            target = self._ensure_folder(client, folder)
            if self._has("MOVE"):
                client.move([uid], target)
            else:
                client.copy([uid], target)
                client.add_flags([uid], [_DELETED], silent=True)
                if self._has("UIDPLUS"):
                    client.uid_expunge([uid])
                else:  # removes every \Deleted message of the folder: the only way without UIDPLUS
                    client.expunge()
        log.info("inbox=%s uid=%s message_id=%s moved to %s", self.name, uid, ref.message_id, target)

    def append(self, folder: str, raw: bytes, flags: list[str]) -> None:
        checked = [_checked_keyword(f) for f in flags]
        with self._op(f"append to {folder}") as client:
            target = self._ensure_folder(client, folder)
            client.append(target, raw, flags=checked)
        log.info("inbox=%s appended %d bytes to %s flags=%s", self.name, len(raw), target, " ".join(checked))

    def contains(self, folder: str, header: str, value: str) -> bool:
        """Whether ``folder`` holds a message whose ``header`` is exactly ``value`` (whitespace-normalised).

        The server's ``SEARCH HEADER`` matches substrings, so candidates are checked exactly.
        A missing folder holds nothing. Searching another folder re-selects the inbox afterwards.
        """
        if not re.fullmatch(r"[!-9;-~]+", header):
            raise ValueError(f"not a header name: {header!r}")
        wanted = " ".join(value.split())
        with self._op(f"search {folder} for {header}") as client:
            name = self._server_folder(folder)[-1]
            elsewhere = name != self.inbox.folder and folder != self.inbox.folder
            if elsewhere:
                if not self._selectable(client, name):
                    return False
                client.select_folder(name, readonly=True)
            try:
                charset = None if value.isascii() else "UTF-8"
                uids = client.search(["HEADER", header, value], charset=charset)
                found = False
                if uids:
                    data = client.fetch(sorted(uids)[-CONTAINS_CHECK_MAX:],
                                        [f"BODY.PEEK[HEADER.FIELDS ({header.upper()})]"])
                    found = any(wanted in header_values(_section(item, b"BODY[HEADER.FIELDS") or b"", header)
                                for item in data.values())
            finally:
                if elsewhere and self._client is not None:
                    self._select_inbox()
                    self._pending_new = True  # mail that came meanwhile was not announced to us
        return found

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True when new mail may have arrived.

        IDLE: returns on EXISTS/RECENT, ignoring keep-alives (``* OK Still here``) and other
        updates; the IDLE command is renewed every ``idle_renew`` seconds. Polling: returns
        True once ``inbox.poll_interval`` has passed since the last `untriaged` (after a
        NOOP that proves the connection still works), else False after ``timeout``.
        """
        if self._interrupted.is_set():
            self._interrupted.clear()
            return False
        with self._op("wait for new mail", fatal=True) as client:
            if self._take_new_mail_notices() or self._pending_new:
                self._pending_new = False
                return True
            if self.inbox.idle and not self._idle_refused and self._has("IDLE"):
                return self._idle_wait(client, timeout)
            return self._poll_wait(client, timeout)

    # ---- waiting -----------------------------------------------------------------------------

    def _idle_wait(self, client: imapclient.IMAPClient, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        # NOOP first: changes since our last command come now, not buried before "+ idling".
        _, responses = client.noop()
        if _is_new_mail(responses) or self._take_new_mail_notices():
            return True
        rounds = 0
        while (left := deadline - time.monotonic()) > 0:
            if rounds:
                log.debug("inbox=%s IDLE renewed after %.0f s", self.name, self.idle_renew)
            rounds += 1
            try:
                client.idle()
            except imap_errors.IMAPClientAbortError:
                raise
            except imap_errors.IMAPClientError as exc:  # refused (NO/BAD): poll instead
                self._idle_refused = True
                log.warning("inbox=%s the server refused IDLE (%s): polling every %g s instead", self.name,
                            exc, self.inbox.poll_interval)
                return self._poll_wait(client, deadline - time.monotonic())
            found = self._idle_round(client, time.monotonic() + min(left, self.idle_renew))
            _, responses = client.idle_done()
            if found or _is_new_mail(responses) or self._take_new_mail_notices():
                log.debug("inbox=%s new mail announced", self.name)
                return True
            if self._interrupted.is_set():
                self._interrupted.clear()
                return False
        return False

    def _idle_round(self, client: imapclient.IMAPClient, until: float) -> bool:
        """Read IDLE responses until ``until``; True on news of mail. Raises `ConnectionError` when the server left."""
        wake = self._wake_pipe()
        with selectors.DefaultSelector() as selector:
            selector.register(client.socket(), selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while (left := until - time.monotonic()) > 0:
                if self._interrupted.is_set():
                    return False
                ready = selector.select(left)
                if not ready:
                    continue
                if any(key.fd == wake for key, _ in ready):
                    os.read(wake, 512)
                    continue  # the loop's check of the interrupt flag ends the round
                responses = client.idle_check(timeout=0)
                if not responses:  # readable, yet no line: end of stream
                    raise ConnectionError("the server closed the connection during IDLE")
                for response in responses:
                    if response and response[0] == b"BYE":
                        text = b" ".join(r for r in response[1:] if isinstance(r, bytes)).decode("ascii", "replace")
                        raise ConnectionError(f"the server ended the session: BYE {text}".rstrip())
                if _is_new_mail(responses):
                    return True
                # anything else (keep-alives "OK Still here", EXPUNGE, FETCH flag updates) is no news
        return False

    def _wake_pipe(self) -> int:
        """The read end of the wake-up pipe, made on first use (closed by `close`)."""
        with self._wake_lock:
            if self._wake is None:
                read, write = os.pipe()
                os.set_blocking(read, False)
                os.set_blocking(write, False)
                self._wake = (read, write)
            return self._wake[0]

    def _poll_wait(self, client: imapclient.IMAPClient, timeout: float) -> bool:
        due = self._last_poll + self.inbox.poll_interval
        left = due - time.monotonic()
        if self._interrupted.wait(max(0.0, min(left, timeout))):
            self._interrupted.clear()
            return False
        if left > timeout:
            return False
        client.noop()  # proves the connection; its news do not matter, a poll is due anyway
        self._take_new_mail_notices()
        self._last_poll = time.monotonic()
        return True

    def _take_new_mail_notices(self) -> bool:
        """Consume EXISTS/RECENT that came with earlier command replies; True if there were any.

        imaplib keeps unsolicited responses that no command asked for in a dict that grows for
        the life of the connection; we read and clear the kinds that matter here.
        """
        stash = getattr(getattr(self._client, "_imap", None), "untagged_responses", None)
        if not isinstance(stash, dict):
            return False
        exists = stash.pop("EXISTS", None)
        recent = stash.pop("RECENT", None) or []
        for kind in ("EXPUNGE", "FETCH"):
            stash.pop(kind, None)
        counts = [n.decode("ascii", "replace") if isinstance(n, bytes) else str(n) for n in recent]
        return bool(exists) or any(n.isdigit() and int(n) > 0 for n in counts)

    # ---- folders -----------------------------------------------------------------------------

    def _server_folder(self, folder: str) -> list[str]:
        client = self._conn()
        if self._hierarchy is None:
            separator, prefix = None, ""
            if self._has("NAMESPACE"):
                personal = client.namespace().personal
                if personal:
                    prefix, separator = personal[0][0] or "", personal[0][1]
            if separator is None:
                listed = client.list_folders("", "")
                if listed and listed[0][1]:
                    separator = listed[0][1].decode() if isinstance(listed[0][1], bytes) else listed[0][1]
            self._hierarchy = (separator, prefix)
            log.debug("inbox=%s folder separator %r, prefix %r", self.name, separator, prefix)
        try:
            return folder_chain(folder, *self._hierarchy)
        except ValueError as exc:
            raise MailboxError(f"{self._where}: {exc}") from exc

    def _selectable(self, client: imapclient.IMAPClient, name: str) -> bool:
        for flags, _, listed in client.list_folders("", name):
            if listed == name and not {bytes(f).upper() for f in flags} & _NOT_SELECTABLE:
                return True
        return False

    def _ensure_folder(self, client: imapclient.IMAPClient, folder: str) -> str:
        chain = self._server_folder(folder)
        for name in chain:
            if name in self._known_folders or name == "INBOX":
                continue
            if not self._selectable(client, name):
                try:
                    client.create_folder(name)
                except imap_errors.IMAPClientAbortError:
                    raise
                except imap_errors.IMAPClientError:
                    if not self._selectable(client, name):  # not a lost race with another client
                        raise
                else:
                    log.info("inbox=%s created folder %s", self.name, name)
                try:
                    client.subscribe_folder(name)
                except imap_errors.IMAPClientAbortError:
                    raise
                except imap_errors.IMAPClientError as exc:
                    log.debug("inbox=%s could not subscribe %s: %s", self.name, name, exc)
            self._known_folders.add(name)
        return chain[-1]

    # ---- references --------------------------------------------------------------------------

    def _uid(self, ref: MessageRef) -> int:
        self._conn()
        if ref.inbox != self.name:
            raise MailboxError(f"{self._where}: message ref of inbox {ref.inbox} used here")
        if ref.uidvalidity != self._uidvalidity:
            raise MailboxError(f"{self._where}: UIDVALIDITY is now {self._uidvalidity}, not {ref.uidvalidity}: "
                               f"uid {ref.uid} may name another message")
        try:
            uid = int(ref.uid)
        except ValueError:
            raise MailboxError(f"{self._where}: not an IMAP uid: {ref.uid!r}") from None
        if uid < 1:
            raise MailboxError(f"{self._where}: not an IMAP uid: {ref.uid!r}")
        return uid


def _checked_keyword(flag: str) -> str:
    if not _KEYWORD.match(flag):
        raise ValueError(f"not a valid IMAP flag or keyword: {flag!r}")
    return flag


def _shutdown(client: imapclient.IMAPClient) -> None:
    try:
        client.shutdown()
    except Exception:  # already closed
        pass
