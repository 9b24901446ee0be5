"""A private Dovecot for tests: IMAP (plain + STARTTLS, IMAPS) and LMTP on free loopback ports.

Import the fixtures into a test module (the tests folder is on ``sys.path``)::

    from dovecot import dovecot, dovecot_user  # noqa: F401  (pytest fixtures)

- ``dovecot`` (module scope): a running `Dovecot`; users ``support`` and ``sales``
  exist. Tests that stop or kill it need not restart it: ``dovecot_user`` does.
- ``dovecot_user`` (function scope): a fresh user of its own on a running server,
  so tests never see each other's mail.

What a `Dovecot` offers (ports: ``imap_port`` plain + STARTTLS, ``imaps_port``, ``lmtp_port``):

- users: ``add_user(name=None, password=None)`` (works at once, no restart; a group
  mailbox is just a user), ``users``, ``password_file(user)``, ``inbox(user, security,
  **overrides)`` (a ready `triage.config.Inbox`), ``maildir(user)``, ``give_to_mail_user(user)``;
- mail: ``deliver(users, raw)`` (LMTP), ``append(user, raw, folder, flags)`` (returns the UID),
  ``messages(user, folder)`` (uid, flags, raw; read without changing anything),
  ``flags(user, uid, folder)``, ``folders(user)`` (name -> LIST flags), ``uidvalidity(user)``,
  ``imap(user)`` (a logged-in ``imaplib`` connection);
- administration: ``kick(user)``, ``set_uidvalidity(user, value, folder)``, ``doveadm(*args)``;
- process: ``start()``, ``stop()`` (SIGTERM: clients get BYE), ``kill()`` (SIGKILL: a crash),
  ``restart()``, ``pause()``/``resume()`` (SIGSTOP/SIGCONT: connects hang), ``ensure_running()``,
  ``is_running()``, ``log_tail()``, ``log_file``.

Everything lives under one ``tempfile.mkdtemp()`` folder (chmod 0755, not
pytest's ``tmp_path``: the mail processes run as the ``mail`` user and must
traverse every parent folder). The server is ``dovecot -F -c CONF`` in its own
process group. TLS uses a throw-away test CA (``Dovecot.ca_file``) and a server
certificate for ``127.0.0.1``. The harness talks to the server with the
standard library only (``imaplib``, ``smtplib.LMTP``), independent of the
adapter under test.

When Dovecot cannot run here (not installed, not root), the fixture skips with
the reason, except with ``CI=true`` where it fails: CI must never skip silently.
"""

from __future__ import annotations

import atexit
import imaplib
import itertools
import math
import os
import pwd
import re
import secrets
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from triage.config import Inbox, Secret

HOST = "127.0.0.1"  # never "localhost": it may resolve to ::1 first
DEFAULT_USERS = ("support", "sales")
POOL_SIZE = 60  # users written before start-up, handed out by add_user() without waiting
_instances = itertools.count(1)
_users = itertools.count(1)
_running: set[Dovecot] = set()  # killed at interpreter exit should a fixture's teardown never run


def _tool(name: str, *fallbacks: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    return next((path for path in fallbacks if os.access(path, os.X_OK)), None)


DOVECOT = _tool("dovecot", "/usr/sbin/dovecot")
DOVEADM = _tool("doveadm", "/usr/bin/doveadm")
OPENSSL = _tool("openssl", "/usr/bin/openssl")


def missing_requirement() -> str | None:
    """Why a private Dovecot cannot run on this machine, or None when it can."""
    if DOVECOT is None or DOVEADM is None:
        return "dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)"
    if not os.path.exists("/usr/lib/dovecot/lmtp"):
        return "dovecot-lmtpd is not installed (apt-get install dovecot-lmtpd)"
    if OPENSSL is None:
        return "openssl is not installed (needed for the test certificates)"
    if os.geteuid() != 0:
        return "a private Dovecot must be started as root (its mail processes run as the 'mail' user)"
    try:
        pwd.getpwnam("mail")
    except KeyError:
        return "there is no 'mail' user to own the test mail"
    return None


def unavailable(reason: str) -> None:
    """Skip the test, but fail it when CI=true: a CI run must not lose its Dovecot tests silently."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"Dovecot tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"Dovecot tests skipped: {reason}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class DovecotUser:
    name: str
    password: str

    @property
    def address(self) -> str:
        return f"{self.name}@example.org"


@dataclass(frozen=True)
class StoredMessage:
    """One message as the server holds it (read with EXAMINE + BODY.PEEK, so reading changes nothing).

    ``flags`` leaves out ``\\Recent``, which only tells which session saw the message first.
    """

    uid: int
    flags: frozenset[str]
    raw: bytes


class Dovecot:
    """One private Dovecot instance; see the module docstring."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = HOST
        self.imap_port = free_port()
        self.imaps_port = free_port()
        self.lmtp_port = free_port()
        self.config = root / "dovecot.conf"
        self.passwd = root / "passwd"
        self.ca_file = root / "tls" / "ca.crt"
        self.log_file = root / "log" / "dovecot.log"
        self.users: dict[str, DovecotUser] = {}
        self._pool: list[DovecotUser] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr = None
        mail = pwd.getpwnam("mail")
        self._uid, self._gid = mail.pw_uid, mail.pw_gid

    # ---- setup -------------------------------------------------------------------------------

    @classmethod
    def create(cls) -> Dovecot:
        root = Path(tempfile.mkdtemp(prefix="triage-dovecot-"))
        root.chmod(0o755)
        server = cls(root)
        try:
            server._prepare()
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return server

    def _prepare(self) -> None:
        for sub in ("run", "state", "log", "tls", "secrets"):
            (self.root / sub).mkdir()
        (self.root / "secrets").chmod(0o700)
        mail_root = self.root / "mail"
        mail_root.mkdir(mode=0o755)
        os.chown(mail_root, self._uid, self._gid)
        self._make_certificates(self.root / "tls")
        self.passwd.write_text("")
        self.passwd.chmod(0o644)  # the auth process reads it as the dovecot user
        for name in DEFAULT_USERS:
            self.users[name] = self._write_user(name, None)
        self._pool = [self._write_user(f"user{next(_users)}", None) for _ in range(POOL_SIZE)]
        self.config.write_text(self._config_text())

    def _make_certificates(self, tls: Path) -> None:
        """A test CA and a server certificate for 127.0.0.1 signed by it (strict X.509 profile)."""
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        (tls / "server.ext").write_text(
            "basicConstraints = critical, CA:FALSE\n"
            "keyUsage = critical, digitalSignature\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
            "subjectKeyIdentifier = hash\n"
            "authorityKeyIdentifier = keyid\n"
        )
        commands = [
            ["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3", "-subj", "/CN=triage test CA",
             "-addext", "basicConstraints = critical, CA:TRUE",
             "-addext", "keyUsage = critical, keyCertSign, cRLSign",
             "-addext", "subjectKeyIdentifier = hash"],
            ["req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.crt", "-days", "3", "-extfile", "server.ext"],
        ]
        for args in commands:
            subprocess.run([OPENSSL, *args], cwd=tls, check=True, capture_output=True, timeout=30)

    def _config_text(self) -> str:
        root = self.root
        dh = "ssl_dh = </usr/share/dovecot/dh.pem\n" if Path("/usr/share/dovecot/dh.pem").exists() else ""
        return f"""\
# A private Dovecot for triage's tests; nothing of the system instance is used.
instance_name = triage-test-{os.getpid()}-{next(_instances)}
base_dir = {root}/run
state_dir = {root}/state
log_path = {self.log_file}
info_log_path = {self.log_file}
protocols = imap lmtp
listen = {HOST}
ssl = yes
ssl_cert = <{root}/tls/server.crt
ssl_key = <{root}/tls/server.key
{dh}ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
# A failed login answers in about half a second (default: 2 s more) so wrong-password tests stay fast.
auth_failure_delay = 0 secs
first_valid_uid = {self._uid}
first_valid_gid = {self._gid}
mail_location = maildir:~/Maildir
postmaster_address = postmaster@example.org
hostname = dovecot.test
# Keep-alives during IDLE every second, so tests see them (and must ignore them).
imap_idle_notify_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {self.passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {self.passwd}
  default_fields = uid={self._uid} gid={self._gid} home={root}/mail/%n
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {self.imaps_port}
    ssl = yes
  }}
}}
# No auth penalty (up to 15 s per client IP after a failed login): wrong-password tests
# would otherwise slow down every later login from 127.0.0.1.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = {HOST}
    port = {self.lmtp_port}
  }}
}}
"""

    # ---- process control ---------------------------------------------------------------------

    def start(self, ready_timeout: float = 15.0) -> None:
        """Start the server and wait until a user can LOGIN and SELECT (not just the greeting)."""
        if self.is_running():
            return
        self._stderr = open(self.root / "log" / "stderr.log", "ab")  # noqa: SIM115 (closed in _reap)
        self._process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr, start_new_session=True,
        )
        _running.add(self)
        deadline = time.monotonic() + ready_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._reap()
                raise RuntimeError(f"dovecot exited at start-up:\n{self.log_tail()}")
            try:
                with self.imap(self.users["support"]):
                    return
            except (OSError, imaplib.IMAP4.error) as exc:
                last_error = exc
                time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"dovecot not ready after {ready_timeout} s ({last_error}):\n{self.log_tail()}")

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def ensure_running(self) -> None:
        """Start the server again if a test stopped, killed or paused it."""
        if self._process is not None and self._process.poll() is None:
            self._signal(signal.SIGCONT)
            return
        self._reap()
        self.start()

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM to the whole process group (clients get ``* BYE``), SIGKILL after ``grace`` seconds."""
        if self._process is None:
            return
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
        self._reap()

    def kill(self) -> None:
        """SIGKILL to the whole process group: a crash (connections drop without BYE; stored mail survives)."""
        if self._process is None:
            return
        self._signal(signal.SIGKILL)
        self._reap()

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        """SIGSTOP the server: TCP connects still succeed (kernel backlog) but nothing answers."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, sig: int) -> None:
        if self._process is not None:
            try:
                os.killpg(self._process.pid, sig)
            except ProcessLookupError:
                pass

    def _reap(self) -> None:
        _running.discard(self)
        if self._process is not None:
            self._process.wait(timeout=30)
            # Worker processes of the group may outlive the master for a moment: make sure they are gone,
            # or a restart finds their sockets still answering ("Dovecot is already running?").
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _wait_group_gone(self._process.pid)
            self._process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def destroy(self) -> None:
        """Stop the server and remove every file of this instance."""
        try:
            self.kill()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        text = ""
        for path in (self.root / "log" / "stderr.log", self.log_file):
            if path.exists():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # ---- users -------------------------------------------------------------------------------

    def add_user(self, name: str | None = None, password: str | None = None) -> DovecotUser:
        """A new login (and empty mailbox), usable at once without a restart.

        Without arguments it hands out one of the users written before start-up. A named (or
        pool-exhausted) user is appended to the passwd file; Dovecot re-reads that file at most
        once a second, so this then waits (about a second) until the user can log in.
        """
        if name is None and password is None and self._pool:
            user = self._pool.pop(0)
            self.users[user.name] = user
            return user
        user = self._write_user(name or f"user{next(_users)}", password)
        self.users[user.name] = user
        if self.is_running():
            self._await_login(user)
        return user

    def _write_user(self, name: str, password: str | None) -> DovecotUser:
        if name in self.users or any(u.name == name for u in self._pool):
            raise ValueError(f"user {name!r} exists already")
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
            raise ValueError(f"keep test user names simple: {name!r}")
        password = password or secrets.token_urlsafe(12)
        if ":" in password or "\n" in password:
            raise ValueError("a passwd-file password cannot contain ':' or a line break")
        with open(self.passwd, "a", encoding="utf-8") as handle:
            handle.write(f"{name}:{{PLAIN}}{password}::::::\n")
        return DovecotUser(name, password)

    def _await_login(self, user: DovecotUser, timeout: float = 5.0) -> None:
        # The passwd file is re-read on the first lookup in a later wall-clock second: wait for that
        # second rather than fail a login (a failed login costs half a second).
        now = time.time()
        time.sleep(math.ceil(now) - now + 0.02)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.imap(user):
                    return
            except imaplib.IMAP4.error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def password_file(self, user: DovecotUser | str) -> Path:
        """A file holding the user's password, for `triage.config.Secret(file=...)`."""
        user = self._user(user)
        path = self.root / "secrets" / f"{user.name}.password"
        path.write_text(user.password + "\n")
        path.chmod(0o600)
        return path

    def inbox(self, user: DovecotUser | str, security: str = "tls", **overrides: object) -> Inbox:
        """An `Inbox` for this server: ``security`` "tls" (IMAPS port), "starttls" or "none" (plain port).

        TLS is verified against the test CA. Anything else of the `Inbox` can be overridden,
        e.g. ``timeout=1.0`` or ``idle=False``.
        """
        user = self._user(user)
        values: dict[str, object] = dict(
            name=user.name, kind="imap", team="support", host=self.host,
            port=self.imaps_port if security == "tls" else self.imap_port,
            security=security, username=user.name, password=Secret(file=self.password_file(user)),
            ca_file=self.ca_file, timeout=5.0, poll_interval=1.0,
        )
        values.update(overrides)
        return Inbox(**values)  # type: ignore[arg-type]

    def maildir(self, user: DovecotUser | str) -> Path:
        """The user's Maildir on disk (owned by the ``mail`` user; root may read it)."""
        return self.root / "mail" / self._user(user).name / "Maildir"

    def give_to_mail_user(self, user: DovecotUser | str) -> None:
        """Hand every file of the user's mail home back to the ``mail`` user.

        Tests run as root: files and folders that test code writes straight into a Maildir
        (e.g. with `triage.maildir.MaildirMailbox`) would be unreadable for Dovecot otherwise.
        """
        home = self.maildir(user).parent
        for path in [home, *home.rglob("*")]:
            os.lchown(path, self._uid, self._gid)

    def _user(self, user: DovecotUser | str) -> DovecotUser:
        return self.users[user] if isinstance(user, str) else user

    # ---- mail --------------------------------------------------------------------------------

    def deliver(self, recipients: DovecotUser | str | Iterable[DovecotUser | str], raw: bytes,
                sender: str = "sender@example.org") -> None:
        """Deliver ``raw`` by LMTP into each recipient's INBOX (a group mailbox is just a user)."""
        if isinstance(recipients, (DovecotUser, str)):
            recipients = [recipients]
        addresses = [self._user(r).address for r in recipients]
        with smtplib.LMTP(self.host, self.lmtp_port, timeout=10) as lmtp:
            # one transaction per recipient: LMTP answers DATA once per recipient, smtplib reads one answer
            for address in addresses:
                lmtp.sendmail(sender, [address], raw)

    @contextmanager
    def imap(self, user: DovecotUser | str) -> Iterator[imaplib.IMAP4]:
        """A logged-in stdlib IMAP connection (plain port) for looking at or changing a mailbox directly."""
        user = self._user(user)
        conn = imaplib.IMAP4(self.host, self.imap_port, timeout=10)
        try:
            conn.login(user.name, user.password)
            typ, _ = conn.select("INBOX")
            if typ != "OK":
                raise imaplib.IMAP4.error("SELECT INBOX failed")
            yield conn
        finally:
            try:
                conn.logout()
            except (OSError, imaplib.IMAP4.error):
                conn.shutdown()

    def append(self, user: DovecotUser | str, raw: bytes, folder: str = "INBOX",
               flags: Iterable[str] = ()) -> int:
        """APPEND ``raw`` (exactly these bytes) to ``folder`` and return its UID."""
        with self.imap(user) as conn:
            flag_list = "(" + " ".join(flags) + ")" if flags else None
            typ, data = conn.append(_quote(folder), flag_list, None, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND to {folder} failed: {data}")
            match = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            if not match:
                raise RuntimeError(f"no APPENDUID in {data}")
            return int(match.group(1))

    def folders(self, user: DovecotUser | str) -> dict[str, frozenset[str]]:
        """Every folder of the user with its LIST flags (e.g. ``\\Noselect``, ``\\HasChildren``)."""
        with self.imap(user) as conn:
            typ, data = conn.list('""', "*")
        result = {}
        for line in data:
            match = re.match(rb'\(([^)]*)\) (?:"[^"]*"|NIL) (.+)$', line or b"")
            if match:
                name = match.group(2).decode()
                result[name[1:-1] if name.startswith('"') else name] = frozenset(match.group(1).decode().split())
        return result

    def messages(self, user: DovecotUser | str, folder: str = "INBOX") -> list[StoredMessage]:
        """The messages of ``folder`` in UID order, read without changing anything (EXAMINE, BODY.PEEK)."""
        with self.imap(user) as conn:
            typ, _ = conn.select(_quote(folder), readonly=True)
            if typ != "OK":
                raise RuntimeError(f"no folder {folder!r} for {self._user(user).name}")
            typ, data = conn.uid("SEARCH", "ALL")
            uids = (data[0] or b"").split()
            if not uids:
                return []
            typ, data = conn.uid("FETCH", b",".join(uids).decode(), "(UID FLAGS BODY.PEEK[])")
        messages = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            head = item[0]
            uid = int(re.search(rb"UID (\d+)", head).group(1))
            flags = re.search(rb"FLAGS \(([^)]*)\)", head)
            names = frozenset((flags.group(1).decode() if flags else "").split()) - {"\\Recent"}  # a session flag
            messages.append(StoredMessage(uid, names, item[1]))
        return sorted(messages, key=lambda m: m.uid)

    def flags(self, user: DovecotUser | str, uid: int, folder: str = "INBOX") -> frozenset[str]:
        for message in self.messages(user, folder):
            if message.uid == uid:
                return message.flags
        raise KeyError(f"no uid {uid} in {folder}")

    def uidvalidity(self, user: DovecotUser | str, folder: str = "INBOX") -> int:
        with self.imap(user) as conn:
            typ, data = conn.status(_quote(folder), "(UIDVALIDITY)")
        return int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))

    # ---- administration ----------------------------------------------------------------------

    def doveadm(self, *args: str, ok: tuple[int, ...] = (0,)) -> str:
        done = subprocess.run([DOVEADM, "-c", str(self.config), *args], capture_output=True, text=True, timeout=30)
        if done.returncode not in ok:
            raise RuntimeError(f"doveadm {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def kick(self, user: DovecotUser | str) -> bool:
        """Drop every connection of the user (``doveadm kick``); the server keeps running.

        Returns whether a connection was there to drop (doveadm exits 68 when there was none).
        """
        name = self._user(user).name
        kicked = bool(self.doveadm("kick", name, ok=(0, 68)).strip())
        # doveadm returns once the kick is sent; wait until the connections are really gone,
        # or the next command may still go through on a closing connection.
        deadline = time.monotonic() + 5
        while kicked and time.monotonic() < deadline:
            still = self.doveadm("who", "-1", name, ok=(0, 68))
            if not any(line.split()[:1] == [name] for line in still.splitlines()):
                break
            time.sleep(0.02)
        return kicked

    def set_uidvalidity(self, user: DovecotUser | str, value: int, folder: str = "INBOX") -> None:
        """Change a folder's UIDVALIDITY live (``doveadm mailbox update --uid-validity``)."""
        self.doveadm("mailbox", "update", "-u", self._user(user).name, "--uid-validity", str(value), folder)


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_running):
        server.kill()


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    """A private Dovecot for the test module (started in well under a second)."""
    reason = missing_requirement()
    if reason:
        unavailable(reason)
    server = Dovecot.create()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def dovecot_user(dovecot: Dovecot) -> DovecotUser:
    """A fresh user with an empty mailbox on a running server (restarted if an earlier test stopped it)."""
    dovecot.ensure_running()
    return dovecot.add_user()


def _wait_group_gone(pgid: int, timeout: float = 10.0) -> None:
    """Wait until no live (non-zombie) process of process group ``pgid`` is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = False
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                alive = True
                break
        if not alive:
            return
        time.sleep(0.01)
