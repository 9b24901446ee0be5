"""A local Maildir inbox: `MaildirMailbox` speaks the `triage.mailbox.Mailbox` protocol on disk.

Standard library only (``mailbox`` creates the Maildir and its folders). The on-disk
layout is the one Dovecot uses for Maildir++, so the same folder can be served by an
IMAP server (or read by mutt) and keeps its state:

- The inbox is the Maildir at ``inbox.path`` (created with its parents if missing);
  ``inbox.folder`` is not used. A message's uid is its Maildir unique name (the file
  name up to the ``:``), which renames never change; UIDVALIDITY is always 0.
- Folders are Maildir++ sub-Maildirs: ``Drafts`` is ``PATH/.Drafts``, ``Triaged/support``
  is ``PATH/.Triaged.support`` (its parent ``.Triaged`` is created too). A folder name
  part may not contain ``.``. ``INBOX`` names the inbox itself.
- Flags live in the file name's info part (``KEY:2,FLAGS``): ``\\Draft`` D, ``\\Flagged`` F,
  ``\\Answered`` R, ``\\Seen`` S, ``\\Deleted`` T; keywords are the letters ``a``-``z``,
  mapped to names by the folder's ``dovecot-keywords`` file (``0 $Triaged`` …), at most
  26 per folder. Marking renames the file (one atomic ``rename``; a message in ``new/``
  moves to ``cur/``); a move to another folder renames it there, re-mapping the letters.
- Writes are atomic: an appended message is written to ``tmp/`` and linked into ``cur/``.
- `untriaged` skips messages with ``$Triaged`` or ``\\Deleted``; oldest first by the delivery
  time in the unique name. `fetch` never touches flags (\\Seen is never set).
- `mark` and `move` of a message that is already gone log a warning (idempotent retries).
- `wait` looks at ``new/`` and ``cur/`` every ``tick`` seconds (0.25 s) and returns True as
  soon as a message appears that the last `untriaged` did not see.
- File system errors become `MailboxError` naming the inbox and path; an invalid keyword or
  flag (a caller bug) raises `ValueError`.
"""

from __future__ import annotations

import itertools
import logging
import mailbox
import os
import re
import socket
import threading
import time
from pathlib import Path

from triage.config import Inbox
from triage.errors import MailboxError
from triage.mailbox import TRIAGED_KEYWORD, MessageRef, header_values, message_id_of

log = logging.getLogger(__name__)

KEYWORDS_FILE = "dovecot-keywords"
MAX_KEYWORDS = 26  # the letters a-z
HEADER_MAX = 256 * 1024  # bytes read when looking for the end of a header section
SYSTEM_FLAGS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S", "\\Deleted": "T"}
_KEYWORD = re.compile(r"^[^\s(){}%*\"\\\]\x00-\x1f\x7f]+$")
_DELIVERED = re.compile(r"^(\d+)\.(?:M(\d+))?")
_names = itertools.count()
_names_lock = threading.Lock()


class _TooManyKeywords(Exception):
    """A folder's ``dovecot-keywords`` has no free letter left."""


class _Keywords:
    """The ``dovecot-keywords`` file of one Maildir folder: keyword name <-> letter a-z."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / KEYWORDS_FILE
        self._names: dict[int, str] = {}
        self._stamp: tuple[int, int] | None = None

    def _load(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._names, self._stamp = {}, None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        names = {}
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            index, _, name = line.partition(" ")
            if index.isdigit() and int(index) < MAX_KEYWORDS and name:
                names[int(index)] = name
        self._names, self._stamp = names, stamp

    def names(self, letters: str) -> set[str]:
        self._load()
        return {self._names[ord(c) - 97] for c in letters if c.islower() and ord(c) - 97 in self._names}

    def letters(self, names: set[str]) -> str:
        """The letters for ``names``, adding unknown names to the file."""
        self._load()
        known = {name.lower(): index for index, name in self._names.items()}
        missing = [n for n in sorted(names) if n.lower() not in known]
        if missing:
            free = [i for i in range(MAX_KEYWORDS) if i not in self._names]
            if len(missing) > len(free):
                raise _TooManyKeywords(f"{self.path.parent} would need more than {MAX_KEYWORDS} keywords")
            for name, index in zip(missing, free):
                self._names[index] = name
                known[name.lower()] = index
            text = "".join(f"{i} {n}\n" for i, n in sorted(self._names.items()))
            tmp = self.path.with_name(f"{KEYWORDS_FILE}.{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.path)
            self._stamp = None
        return "".join(chr(97 + known[n.lower()]) for n in names)


def _flags_of(name: str) -> str:
    """The flag letters of a Maildir file name (``KEY:2,FLAGS``)."""
    _, sep, info = name.partition(":")
    return info[2:] if sep and info.startswith("2,") else ""


def _key_of(name: str) -> str:
    return name.partition(":")[0]


def _age(key: str, path: Path) -> tuple[float, int, str]:
    match = _DELIVERED.match(key)
    if match:
        return float(match.group(1)), int(match.group(2) or 0), key
    try:
        return path.stat().st_mtime, 0, key
    except OSError:
        return 0.0, 0, key


def _read_header(path: Path, limit: int = HEADER_MAX) -> bytes:
    """The header section of a message file (up to and including the blank line), at most ``limit`` bytes."""
    out = bytearray()
    with open(path, "rb") as handle:
        for line in handle:
            if len(out) + len(line) > limit:
                out += line[: limit - len(out)]
                break
            out += line
            if line in (b"\n", b"\r\n"):
                break
    return bytes(out)


class MaildirMailbox:
    """One local Maildir inbox (see the module docstring). One instance per worker thread."""

    def __init__(self, inbox: Inbox, tick: float = 0.25) -> None:
        if inbox.path is None:
            raise ValueError(f"inbox {inbox.name} has no Maildir path")
        self.inbox = inbox
        self.name = inbox.name
        self.root = Path(inbox.path)
        self.tick = max(0.01, min(tick, inbox.poll_interval))
        self._connected = False
        self._keywords: dict[Path, _Keywords] = {}
        self._paths: dict[str, Path] = {}  # key -> file, as of the last look (a hint, checked before use)
        self._seen: set[str] | None = None  # the inbox's keys at the last `untriaged`
        self._where = f"inbox {inbox.name} (Maildir {self.root})"
        self._interrupted = threading.Event()

    def interrupt(self) -> None:
        """End a `wait` in progress (or the next one) at once; safe from any thread."""
        self._interrupted.set()

    # ---- connection --------------------------------------------------------------------------

    def connect(self) -> None:
        """Check (or create) the Maildir with its ``cur``, ``new`` and ``tmp`` folders."""
        try:
            self.root.parent.mkdir(parents=True, exist_ok=True)
            mailbox.Maildir(self.root, create=True)
            for sub in ("cur", "new", "tmp"):
                (self.root / sub).mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise self._error("open", exc) from exc
        self._connected = True
        log.info("inbox=%s opened Maildir %s", self.name, self.root)

    def close(self) -> None:
        self._connected = False

    def uidvalidity(self) -> int:
        self._check_open()
        return 0

    # ---- protocol ----------------------------------------------------------------------------

    def untriaged(self) -> list[MessageRef]:
        self._check_open()
        try:
            files = self._files(self.root)
            keywords = self._keywords_of(self.root)
            found = []
            for key, path in files.items():
                flags = _flags_of(path.name)
                if "T" in flags or TRIAGED_KEYWORD.lower() in {n.lower() for n in keywords.names(flags)}:
                    continue
                try:
                    size = path.stat().st_size
                    message_id = message_id_of(_read_header(path))
                except FileNotFoundError:  # renamed by someone else meanwhile: next round sees it
                    continue
                found.append((_age(key, path), MessageRef(self.name, 0, key, size, message_id)))
        except OSError as exc:
            raise self._error("list untriaged mail", exc) from exc
        self._seen = set(files)
        refs = [ref for _, ref in sorted(found, key=lambda pair: pair[0])]
        log.debug("inbox=%s %d untriaged message(s)", self.name, len(refs))
        return refs

    def fetch(self, ref: MessageRef, limit: int | None = None) -> bytes:
        """The message file's bytes; with ``limit`` and a bigger file only its header (at most ``limit`` bytes)."""
        key = self._key(ref)
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be positive, not {limit}")
        try:
            path = self._find(self.root, key)
            if path is None:
                raise MailboxError(f"{self._where}: fetch {key} failed: the message is no longer in the inbox")
            if limit is not None and path.stat().st_size > limit:
                log.info("inbox=%s uid=%s message_id=%s is bigger than %s bytes: reading its header only",
                         self.name, key, ref.message_id, limit)
                return _read_header(path, limit)
            return path.read_bytes()
        except OSError as exc:
            raise self._error(f"fetch {key}", exc) from exc

    def mark(self, ref: MessageRef, keywords: list[str], flagged: bool = False) -> None:
        key = self._key(ref)
        names = {_checked_keyword(k) for k in keywords}
        try:
            for attempt in (1, 2):  # a mail reader may rename the file between our look and our rename
                path = self._find(self.root, key)
                if path is None:
                    log.warning("inbox=%s uid=%s message_id=%s is no longer in the inbox: not marked",
                                self.name, key, ref.message_id)
                    return
                letters = set(_flags_of(path.name)) | set(self._keywords_of(self.root).letters(names))
                if flagged:
                    letters.add("F")
                target = self.root / "cur" / f"{key}:2,{''.join(sorted(letters))}"
                try:
                    if target != path:
                        os.rename(path, target)
                    self._paths[key] = target
                    break
                except FileNotFoundError:
                    self._paths.pop(key, None)
                    if attempt == 2:
                        raise
        except _TooManyKeywords as exc:
            raise MailboxError(f"{self._where}: mark {key} failed: {exc}") from exc
        except OSError as exc:
            raise self._error(f"mark {key}", exc) from exc
        log.debug("inbox=%s uid=%s message_id=%s marked %s%s", self.name, key, ref.message_id,
                  " ".join(sorted(names)), " \\Flagged" if flagged else "")

    def move(self, ref: MessageRef, folder: str) -> None:
        key = self._key(ref)
        try:
            target_dir = self._folder_dir(folder, create=True)
            if target_dir == self.root:
                return
            path = self._find(self.root, key)
            if path is None:
                log.warning("inbox=%s uid=%s message_id=%s is no longer in the inbox: not moved to %s",
                            self.name, key, ref.message_id, folder)
                return
            flags = _flags_of(path.name)
            names = self._keywords_of(self.root).names(flags)
            letters = {c for c in flags if not c.islower()} | set(self._keywords_of(target_dir).letters(names))
            os.rename(path, target_dir / "cur" / f"{key}:2,{''.join(sorted(letters))}")
            self._paths.pop(key, None)
        except _TooManyKeywords as exc:
            raise MailboxError(f"{self._where}: move {key} to {folder} failed: {exc}") from exc
        except OSError as exc:
            raise self._error(f"move {key} to {folder}", exc) from exc
        log.info("inbox=%s uid=%s message_id=%s moved to %s", self.name, key, ref.message_id, folder)

    def append(self, folder: str, raw: bytes, flags: list[str]) -> None:
        """Write ``raw`` unchanged into ``folder``: to ``tmp/``, then linked into ``cur/`` with its flags."""
        self._check_open()
        unknown = [f for f in flags if f.startswith("\\") and f not in SYSTEM_FLAGS]
        if unknown:
            raise ValueError(f"not a system flag a Maildir can hold: {unknown[0]!r}")
        system = {SYSTEM_FLAGS[f] for f in flags if f in SYSTEM_FLAGS}
        names = {_checked_keyword(f) for f in flags if not f.startswith("\\")}
        try:
            target_dir = self._folder_dir(folder, create=True)
            letters = "".join(sorted(system | set(self._keywords_of(target_dir).letters(names))))
            key = self._deliver(target_dir, raw, letters)
        except _TooManyKeywords as exc:
            raise MailboxError(f"{self._where}: append to {folder} failed: {exc}") from exc
        except OSError as exc:
            raise self._error(f"append to {folder}", exc) from exc
        log.info("inbox=%s appended %d bytes to %s as %s", self.name, len(raw), folder, key)

    def contains(self, folder: str, header: str, value: str) -> bool:
        self._check_open()
        wanted = " ".join(value.split())
        try:
            folder_dir = self._folder_dir(folder, create=False)
            if not (folder_dir / "cur").is_dir():
                return False
            for path in self._files(folder_dir).values():
                try:
                    if wanted in header_values(_read_header(path), header):
                        return True
                except FileNotFoundError:
                    continue
        except OSError as exc:
            raise self._error(f"search {folder}", exc) from exc
        return False

    def wait(self, timeout: float) -> bool:
        """Poll ``new/`` and ``cur/`` every ``tick`` seconds; True once a message is there that the last
        `untriaged` did not see (at once if `untriaged` was never called), False after ``timeout``."""
        self._check_open()
        deadline = time.monotonic() + timeout
        while True:
            if self._interrupted.is_set():
                self._interrupted.clear()
                return False
            try:
                keys = set(self._files(self.root))
            except OSError as exc:
                raise self._error("wait for new mail", exc) from exc
            if self._seen is None or keys - self._seen:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._interrupted.wait(min(self.tick, left))

    # ---- helpers -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if not self._connected:
            raise MailboxError(f"{self._where}: not connected")

    def _error(self, what: str, exc: OSError) -> MailboxError:
        detail = exc.strerror or str(exc)
        where = f" ({exc.filename})" if exc.filename else ""
        return MailboxError(f"{self._where}: {what} failed: {detail}{where}")

    def _key(self, ref: MessageRef) -> str:
        self._check_open()
        if ref.inbox != self.name:
            raise MailboxError(f"{self._where}: message ref of inbox {ref.inbox} used here")
        if ref.uidvalidity != 0 or not ref.uid or "/" in ref.uid or ":" in ref.uid or ref.uid.startswith("."):
            raise MailboxError(f"{self._where}: not a Maildir message key: {ref.uid!r}")
        return ref.uid

    def _files(self, folder_dir: Path) -> dict[str, Path]:
        files = {}
        for sub in ("new", "cur"):
            with os.scandir(folder_dir / sub) as entries:
                for entry in entries:
                    if not entry.name.startswith(".") and entry.is_file():
                        files[_key_of(entry.name)] = Path(entry.path)
        if folder_dir == self.root:
            self._paths = dict(files)
        return files

    def _find(self, folder_dir: Path, key: str) -> Path | None:
        hint = self._paths.get(key) if folder_dir == self.root else None
        if hint is not None and hint.exists():
            return hint
        plain = folder_dir / "new" / key
        if plain.exists():
            return plain
        with os.scandir(folder_dir / "cur") as entries:
            for entry in entries:
                if _key_of(entry.name) == key:
                    return Path(entry.path)
        for entry_path in (folder_dir / "new").glob(f"{key}:*"):
            return entry_path
        return None

    def _keywords_of(self, folder_dir: Path) -> _Keywords:
        if folder_dir not in self._keywords:
            self._keywords[folder_dir] = _Keywords(folder_dir)
        return self._keywords[folder_dir]

    def _folder_dir(self, folder: str, create: bool) -> Path:
        parts = folder.strip("/").split("/")
        if len(parts) == 1 and parts[0].upper() == "INBOX":
            return self.root
        for part in parts:
            if not part.strip() or "." in part or os.sep in part or "\x00" in part:
                raise MailboxError(f"{self._where}: {folder!r} is not a Maildir++ folder name "
                                   "(no empty parts, no '.')")
        if create:
            maildir = mailbox.Maildir(self.root, create=True)
            for depth in range(1, len(parts) + 1):
                name = ".".join(parts[:depth])
                if not (self.root / f".{name}" / "cur").is_dir():
                    maildir.add_folder(name)
                    log.info("inbox=%s created folder %s", self.name, "/".join(parts[:depth]))
        return self.root / ("." + ".".join(parts))

    def _deliver(self, folder_dir: Path, raw: bytes, letters: str) -> str:
        for _ in range(10):
            with _names_lock:
                count = next(_names)
            now = time.time()
            key = f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{count}.{_hostname()}"
            tmp = folder_dir / "tmp" / key
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(raw)
                    handle.flush()
                    os.fsync(handle.fileno())
                target = folder_dir / "cur" / f"{key}:2,{letters}"
                try:
                    os.link(tmp, target)  # fails rather than replace a file of the same name
                except PermissionError:  # a file system without hard links
                    os.rename(tmp, target)
            except FileExistsError:
                continue
            finally:
                tmp.unlink(missing_ok=True)
            return key
        raise OSError(f"no unique Maildir name found in {folder_dir}")


def _hostname() -> str:
    return socket.gethostname().replace("/", "\\057").replace(":", "\\072")


def _checked_keyword(keyword: str) -> str:
    if not _KEYWORD.match(keyword):
        raise ValueError(f"not a valid keyword: {keyword!r}")
    return keyword
