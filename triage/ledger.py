"""The ledger: what the daemon saw and did, in SQLite, so that no mail is processed twice or lost.

One row per mail (inbox, UIDVALIDITY, UID, Message-ID, content sha256, the
decision as JSON, state, attempts, last error) and one row per action of a
mail (``forward``, ``draft``, ``alert``, ``mark``, ``move``, ``quarantine``)
that goes ``pending`` → ``done`` with a detail. A mail's state is ``new``
(seen, not yet decided: e.g. while parsing fails), ``decided`` (decision and
planned actions recorded, some still pending), ``done`` or ``quarantined``.

The database runs in WAL mode with ``synchronous=FULL``: a commit is on disk
when the call returns. One connection is shared by all threads behind a lock
(the daemon has one worker thread per inbox; writes are serialised by SQLite
anyway), so every public method is atomic. The schema version lives in
``PRAGMA user_version``; a ledger written by a newer triage is refused.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from triage.decision import Decision
from triage.errors import LedgerError

SCHEMA_VERSION = 1
MAIL_STATES = ("new", "decided", "done", "quarantined")
ACTION_KINDS = ("forward", "draft", "alert", "mark", "move", "quarantine")
ACTION_STATES = ("pending", "done")
DAY = 86_400.0

_SCHEMA = f"""
CREATE TABLE mails (
    id            INTEGER PRIMARY KEY,
    inbox         TEXT    NOT NULL,
    uidvalidity   INTEGER NOT NULL,
    uid           TEXT    NOT NULL,
    message_id    TEXT    NOT NULL DEFAULT '',
    sha256        TEXT    NOT NULL DEFAULT '',
    decision      TEXT,
    topic         TEXT,
    product       TEXT,
    technical     INTEGER NOT NULL DEFAULT 0,
    similar_count INTEGER,
    state         TEXT    NOT NULL DEFAULT 'new' CHECK (state IN {MAIL_STATES!r}),
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    created       REAL    NOT NULL,
    updated       REAL    NOT NULL,
    UNIQUE (inbox, uidvalidity, uid)
);
CREATE INDEX mails_by_content ON mails (inbox, message_id, sha256);
CREATE INDEX mails_similar ON mails (topic, product, technical, created);
CREATE TABLE actions (
    mail_id INTEGER NOT NULL REFERENCES mails (id) ON DELETE CASCADE,
    kind    TEXT    NOT NULL CHECK (kind IN {ACTION_KINDS!r}),
    seq     INTEGER NOT NULL,
    state   TEXT    NOT NULL CHECK (state IN {ACTION_STATES!r}),
    detail  TEXT    NOT NULL DEFAULT '',
    updated REAL    NOT NULL,
    PRIMARY KEY (mail_id, kind)
);
CREATE INDEX actions_pending ON actions (state, mail_id);
PRAGMA user_version = {SCHEMA_VERSION};
"""


@dataclass(frozen=True)
class MailRecord:
    """One mail as the ledger knows it. ``decision`` is the stored JSON object (or None before deciding)."""

    id: int
    inbox: str
    uidvalidity: int
    uid: str
    message_id: str
    sha256: str
    decision: dict[str, Any] | None
    similar_count: int | None
    state: str
    attempts: int
    last_error: str | None
    created: float
    updated: float


@dataclass(frozen=True)
class ActionRecord:
    """One action of one mail, with enough of the mail to name it in a log line."""

    mail_id: int
    kind: str
    state: str
    detail: str
    inbox: str
    uidvalidity: int
    uid: str
    message_id: str


class Ledger:
    """The SQLite ledger at ``path`` (created with its folder and schema if missing). Close it when done."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"{self.path}: cannot open ledger: {exc}") from None
        try:
            self._open()
        except sqlite3.Error as exc:
            self._db.close()
            raise LedgerError(f"{self.path}: cannot open ledger: {exc}") from None
        except LedgerError:
            self._db.close()
            raise

    def _open(self) -> None:
        db = self._db
        db.row_factory = sqlite3.Row
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise LedgerError(f"{self.path}: cannot switch the ledger to WAL mode (got {mode})")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=30000")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            db.execute("BEGIN IMMEDIATE")  # another process may be creating it right now: look again inside
            try:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        db.execute(statement)
                    version = SCHEMA_VERSION
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        if version > SCHEMA_VERSION:
            raise LedgerError(f"{self.path}: ledger schema version {version} was written by a newer triage "
                              f"(this one knows up to {SCHEMA_VERSION})")

    # -- lifecycle -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None  # type: ignore[assignment]

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        with self._use() as db:
            return int(db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _use(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, with SQLite errors turned into `LedgerError`."""
        with self._lock:
            if self._db is None:
                raise LedgerError(f"{self.path}: ledger is closed")
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise LedgerError(f"{self.path}: {exc}") from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._use() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- mails ---------------------------------------------------------------------------------------------

    def find(self, inbox: str, uidvalidity: int, uid: str) -> MailRecord | None:
        """The mail recorded under (inbox, UIDVALIDITY, UID), or None."""
        with self._use() as db:
            row = db.execute("SELECT * FROM mails WHERE inbox = ? AND uidvalidity = ? AND uid = ?",
                             (inbox, uidvalidity, str(uid))).fetchone()
        return _mail(row)

    def get(self, mail_id: int) -> MailRecord | None:
        with self._use() as db:
            return _mail(db.execute("SELECT * FROM mails WHERE id = ?", (mail_id,)).fetchone())

    def find_done(self, inbox: str, message_id: str, sha256: str) -> MailRecord | None:
        """A fully done mail with this Message-ID and content hash (a mail renumbered by a UIDVALIDITY change)."""
        with self._use() as db:
            row = db.execute(
                "SELECT * FROM mails m WHERE inbox = ? AND message_id = ? AND sha256 = ? AND state = 'done' "
                "AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.mail_id = m.id AND a.state = 'pending') "
                "ORDER BY updated DESC LIMIT 1",
                (inbox, message_id, sha256)).fetchone()
        return _mail(row)

    def find_unfinished(self, inbox: str, message_id: str, sha256: str) -> MailRecord | None:
        """A decided but half-done mail with this Message-ID and content hash (renumbered while in hand)."""
        with self._use() as db:
            row = db.execute(
                "SELECT * FROM mails m WHERE inbox = ? AND message_id = ? AND sha256 = ? AND decision IS NOT NULL "
                "AND state != 'quarantined' AND (state != 'done' OR EXISTS "
                "(SELECT 1 FROM actions a WHERE a.mail_id = m.id AND a.state = 'pending')) "
                "ORDER BY updated DESC LIMIT 1",
                (inbox, message_id, sha256)).fetchone()
        return _mail(row)

    def record_mail(self, inbox: str, uidvalidity: int, uid: str, message_id: str = "", sha256: str = "") -> MailRecord:
        """The mail's row, created (state ``new``) if missing; fills in a Message-ID or hash learnt later."""
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO mails (inbox, uidvalidity, uid, message_id, sha256, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (inbox, uidvalidity, uid) DO UPDATE SET "
                "message_id = CASE WHEN excluded.message_id != '' THEN excluded.message_id ELSE message_id END, "
                "sha256 = CASE WHEN excluded.sha256 != '' THEN excluded.sha256 ELSE sha256 END",
                (inbox, uidvalidity, str(uid), message_id, sha256, now, now))
            row = db.execute("SELECT * FROM mails WHERE inbox = ? AND uidvalidity = ? AND uid = ?",
                             (inbox, uidvalidity, str(uid))).fetchone()
        record = _mail(row)
        assert record is not None
        return record

    def renumber(self, mail_id: int, uidvalidity: int, uid: str) -> None:
        """Record the new (UIDVALIDITY, UID) of a renumbered mail.

        A row already under the new key that holds no decision (e.g. only a
        failed attempt) gives way; one with a decision is an error.
        """
        now = time.time()
        with self._transaction() as db:
            row = db.execute("SELECT inbox FROM mails WHERE id = ?", (mail_id,)).fetchone()
            if row is None:
                raise LedgerError(f"{self.path}: no mail #{mail_id} to renumber")
            other = db.execute("SELECT id, decision FROM mails WHERE inbox = ? AND uidvalidity = ? AND uid = ?",
                               (row["inbox"], uidvalidity, str(uid))).fetchone()
            if other is not None and other["id"] != mail_id:
                if other["decision"] is not None:
                    raise LedgerError(f"{self.path}: inbox={row['inbox']} uidvalidity={uidvalidity} uid={uid} "
                                      "is already recorded with a decision")
                db.execute("DELETE FROM mails WHERE id = ?", (other["id"],))
            db.execute("UPDATE mails SET uidvalidity = ?, uid = ?, updated = ? WHERE id = ?",
                       (uidvalidity, str(uid), now, mail_id))

    def record_decision(self, mail_id: int, decision: Decision, actions: list[str],
                        similar_count: int | None = None) -> MailRecord:
        """Store the decision and its planned actions (each ``pending``, in the given order); state ``decided``.

        Actions already recorded keep their state, so calling this again never undoes work.
        """
        unknown = [kind for kind in actions if kind not in ACTION_KINDS]
        if unknown:
            raise ValueError(f"unknown action kinds: {unknown}")
        data = decision.to_json()
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "UPDATE mails SET decision = ?, topic = ?, product = ?, technical = ?, similar_count = ?, "
                "state = 'decided', updated = ? WHERE id = ?",
                (json.dumps(data, ensure_ascii=False, sort_keys=True), decision.topic, decision.product,
                 int(bool(decision.technical_problem and not decision.skipped)), similar_count, now, mail_id))
            for seq, kind in enumerate(actions):
                db.execute("INSERT INTO actions (mail_id, kind, seq, state, detail, updated) "
                           "VALUES (?, ?, ?, 'pending', '', ?) ON CONFLICT (mail_id, kind) DO NOTHING",
                           (mail_id, kind, seq, now))
            row = db.execute("SELECT * FROM mails WHERE id = ?", (mail_id,)).fetchone()
        record = _mail(row)
        if record is None:
            raise LedgerError(f"{self.path}: no mail #{mail_id}")
        return record

    def unfinished(self, inbox: str) -> list[MailRecord]:
        """Mails of ``inbox`` that were decided but not finished (state ``decided``), oldest first."""
        with self._use() as db:
            rows = db.execute("SELECT * FROM mails WHERE inbox = ? AND state = 'decided' ORDER BY id",
                              (inbox,)).fetchall()
        return [record for record in map(_mail, rows) if record is not None]

    def set_state(self, mail_id: int, state: str, error: str | None = None) -> None:
        """Set a mail's state (``done`` also clears the last error; otherwise ``error`` replaces it if given)."""
        if state not in MAIL_STATES:
            raise ValueError(f"unknown mail state {state!r}")
        with self._use() as db:
            if state == "done":
                db.execute("UPDATE mails SET state = ?, last_error = NULL, updated = ? WHERE id = ?",
                           (state, time.time(), mail_id))
            else:
                db.execute("UPDATE mails SET state = ?, last_error = COALESCE(?, last_error), updated = ? "
                           "WHERE id = ?", (state, error, time.time(), mail_id))

    def set_error(self, mail_id: int, error: str) -> None:
        """Remember the last error of a mail without counting an attempt (e.g. SMTP down)."""
        with self._use() as db:
            db.execute("UPDATE mails SET last_error = ?, updated = ? WHERE id = ?", (error, time.time(), mail_id))

    def add_attempt(self, inbox: str, uidvalidity: int, uid: str, error: str, message_id: str = "",
                    sha256: str = "") -> int:
        """Count one failed attempt at a mail (creating its row if needed); the new count."""
        record = self.record_mail(inbox, uidvalidity, uid, message_id, sha256)
        with self._use() as db:
            db.execute("UPDATE mails SET attempts = attempts + 1, last_error = ?, updated = ? WHERE id = ?",
                       (error, time.time(), record.id))
            return int(db.execute("SELECT attempts FROM mails WHERE id = ?", (record.id,)).fetchone()[0])

    def attempts(self, inbox: str, uidvalidity: int, uid: str) -> int:
        """How many failed attempts the mail has had (0 if unknown)."""
        record = self.find(inbox, uidvalidity, uid)
        return record.attempts if record else 0

    # -- actions -------------------------------------------------------------------------------------------

    def actions(self, mail_id: int) -> list[ActionRecord]:
        """A mail's actions in planned order."""
        with self._use() as db:
            rows = db.execute(
                "SELECT a.*, m.inbox, m.uidvalidity, m.uid, m.message_id FROM actions a JOIN mails m ON m.id = a.mail_id "
                "WHERE a.mail_id = ? ORDER BY a.seq", (mail_id,)).fetchall()
        return [_action(row) for row in rows]

    def set_action(self, mail_id: int, kind: str, state: str, detail: str = "") -> None:
        """Record an action as ``pending`` (before it starts) or ``done`` (right after it succeeded)."""
        if kind not in ACTION_KINDS or state not in ACTION_STATES:
            raise ValueError(f"unknown action {kind!r} or state {state!r}")
        now = time.time()
        with self._use() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq) + 1, 0) FROM actions WHERE mail_id = ?", (mail_id,)).fetchone()[0]
            db.execute("INSERT INTO actions (mail_id, kind, seq, state, detail, updated) VALUES (?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT (mail_id, kind) DO UPDATE SET state = excluded.state, detail = excluded.detail, "
                       "updated = excluded.updated", (mail_id, kind, seq, state, detail, now))

    def pending_actions(self, inbox: str | None = None) -> list[ActionRecord]:
        """Every pending action (of one inbox if given), oldest mail first, in planned order."""
        query = ("SELECT a.*, m.inbox, m.uidvalidity, m.uid, m.message_id FROM actions a JOIN mails m ON m.id = a.mail_id "
                 "WHERE a.state = 'pending'")
        args: tuple[Any, ...] = ()
        if inbox is not None:
            query += " AND m.inbox = ?"
            args = (inbox,)
        with self._use() as db:
            rows = db.execute(query + " ORDER BY m.id, a.seq", args).fetchall()
        return [_action(row) for row in rows]

    # -- statistics ----------------------------------------------------------------------------------------

    def count_similar(self, topic: str, product: str, days: float, exclude_mail_id: int | None = None,
                      now: float | None = None) -> int:
        """How many technical problems on the same topic and product were recorded in the last ``days`` days."""
        since = (time.time() if now is None else now) - days * DAY
        with self._use() as db:
            return int(db.execute(
                "SELECT COUNT(*) FROM mails WHERE topic = ? AND product = ? AND technical = 1 "
                "AND state IN ('decided', 'done') AND created >= ? AND id != ?",
                (topic, product, since, -1 if exclude_mail_id is None else exclude_mail_id)).fetchone()[0])


def decision_from_json(data: dict[str, Any]) -> Decision:
    """The `Decision` back from its stored JSON (the inverse of `Decision.to_json`)."""
    known = {f.name for f in fields(Decision)}
    values = {key: value for key, value in data.items() if key in known}
    values["guesses"] = tuple((g["topic"], float(g["probability"])) for g in data.get("guesses", ()))
    values["urls"] = tuple(data.get("urls", ()))
    values["missing_details"] = tuple(data.get("missing_details", ()))
    return Decision(**values)


def _mail(row: sqlite3.Row | None) -> MailRecord | None:
    if row is None:
        return None
    return MailRecord(
        id=row["id"], inbox=row["inbox"], uidvalidity=row["uidvalidity"], uid=row["uid"],
        message_id=row["message_id"], sha256=row["sha256"],
        decision=json.loads(row["decision"]) if row["decision"] is not None else None,
        similar_count=row["similar_count"], state=row["state"], attempts=row["attempts"],
        last_error=row["last_error"], created=row["created"], updated=row["updated"],
    )


def _action(row: sqlite3.Row) -> ActionRecord:
    return ActionRecord(mail_id=row["mail_id"], kind=row["kind"], state=row["state"], detail=row["detail"],
                        inbox=row["inbox"], uidvalidity=row["uidvalidity"], uid=row["uid"],
                        message_id=row["message_id"])
