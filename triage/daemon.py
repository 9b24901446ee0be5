"""The daemon loop: one worker thread per configured inbox.

Each worker connects, works off the backlog of untriaged mail oldest first
(fetch → `Engine.triage_raw` → `Applier.apply`), then waits for new mail with
`Mailbox.wait` (IMAP IDLE) and repeats. ``run(once=True)`` stops after one
pass over the backlog, which is what tests and ``triage run --once`` use.

Faults (see ``docs/daemon-design.md``):

- a mail that cannot be parsed or classified counts an attempt in the ledger
  and is tried again after the rest of the pass; after ``daemon.max_attempts``
  it goes to the quarantine folder with the reason;
- a mail larger than ``daemon.max_message_bytes`` is quarantined without
  being loaded (only its first bytes are read, for the Message-ID);
- `DeliveryError` (SMTP down) leaves the mail pending, unmarked; it is tried
  again later with backoff, and after a few in a row the pass ends early so a
  dead server costs no time per mail;
- `MailboxError` (connection lost) closes the connection and reconnects with
  exponential backoff (1 s doubling to 60 s) and jitter.

Shutdown is warm: `stop()` (or the first SIGTERM/SIGINT) lets each worker
finish the mail in hand, close its connection and return; a second signal
ends the process at once. Every log line names the inbox and, for a mail, its
UID and Message-ID.

While it runs, the daemon writes a small JSON heartbeat next to the ledger
(`heartbeat_path`), which ``python -m triage.health`` checks.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from triage.apply import Applier, content_hash, mark_keywords
from triage.config import Config, Inbox
from triage.engine import Engine
from triage.errors import ConfigError, DeliveryError, LedgerError, MailboxError, TriageError
from triage.ledger import Ledger, decision_from_json
from triage.mailbox import Mailbox, MessageRef, message_id_of
from triage.smtp import Sender, make_sender

log = logging.getLogger(__name__)

BACKOFF_FIRST = 1.0  # seconds before the first reconnect / delivery retry
BACKOFF_CAP = 60.0  # the delay doubles up to this
BACKOFF_JITTER = 0.2  # each delay is spread by up to ±20 % so inboxes do not retry in lockstep
WAIT_SLICE = 600.0  # longest single Mailbox.wait; stop() interrupts a wait at once, new mail ends it too
HEADER_BYTES = 64 * 1024  # what is read of an oversized mail (for its Message-ID)
DELIVERY_FAILURES_PER_PASS = 3  # this many delivery errors in a row end a pass early: the server is down
ONCE_CONNECT_TRIES = 3  # run(once=True) gives up on an inbox it cannot reach after this many tries
HEARTBEAT_SECONDS = 5.0  # how often the heartbeat file is rewritten


class Backoff:
    """Exponential backoff with jitter: ``first`` doubling up to ``cap``; `reset` after a success."""

    def __init__(self, first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP, jitter: float = BACKOFF_JITTER,
                 rng: Callable[[], float] = random.random) -> None:
        self.first = first
        self.cap = cap
        self.jitter = jitter
        self.rng = rng
        self.failures = 0

    def next(self) -> float:
        """The delay before the next try (and count one more failure)."""
        nominal = min(self.cap, self.first * 2 ** min(self.failures, 32))
        self.failures += 1
        spread = 1.0 + self.jitter * (2.0 * self.rng() - 1.0)
        return max(0.0, min(self.cap, nominal * spread))

    def reset(self) -> None:
        self.failures = 0


@dataclass
class InboxStats:
    """What one inbox's worker did during `Daemon.run` (for tests, the CLI and the heartbeat)."""

    done: int = 0  # decided and every action carried out (forwarded, drafted, marked ...)
    skipped: int = 0  # of those, automated mail filed without forward or draft
    renumbered: int = 0  # done earlier under another UIDVALIDITY: marked again only
    quarantined: int = 0
    failed: int = 0  # parse/classify failures (each counted as an attempt)
    deferred: int = 0  # left pending because delivery failed (SMTP down)
    connects: int = 0
    connection_errors: int = 0
    state: str = "starting"  # starting | connecting | working | idle | backoff | stopped | given-up
    since: float = field(default_factory=time.time)
    last_error: str | None = None
    pending: int = 0  # mails the last pass left unfinished (deferred or failed below max_attempts)

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.since = time.time()


MailboxFactory = Callable[[Inbox], Mailbox]


def default_mailbox_factory(config: Config) -> MailboxFactory:
    """Build an `ImapMailbox` or `MaildirMailbox` for each inbox, by its ``kind``."""

    def make(inbox: Inbox) -> Mailbox:
        if inbox.kind == "maildir":
            from triage.maildir import MaildirMailbox

            return MaildirMailbox(inbox)
        from triage.imap import ImapMailbox

        renew = config.daemon.idle_renew_seconds if config.daemon is not None else 600.0
        return ImapMailbox(inbox, idle_renew=renew)

    return make


def heartbeat_path(config: Config) -> Path:
    """Where the running daemon keeps its heartbeat: beside the ledger."""
    if config.daemon is None:
        raise ConfigError(config.source, "daemon", "missing table")
    ledger = config.daemon.ledger
    return ledger.with_name(ledger.name + ".heartbeat.json")


class Daemon:
    """Watches every inbox of ``config`` and triages new mail; see the module documentation.

    ``mailbox_factory`` turns an `Inbox` into a `Mailbox` (default: by kind);
    ``sender`` sends forwards and alerts (default: by ``[delivery]``);
    ``ledger`` defaults to ``daemon.ledger`` (a dry run on a missing ledger
    uses a throw-away one, so it writes nothing). ``clock`` and ``rng``
    make timing and jitter predictable in tests; ``wait_slice`` bounds one
    `Mailbox.wait` (`stop()` interrupts a wait in any case); ``backoff`` is
    (first delay, cap) for reconnects and delivery retries.
    """

    def __init__(self, config: Config, engine: Engine, mailbox_factory: MailboxFactory | None = None,
                 sender: Sender | None = None, dry_run: bool = False, *, ledger: Ledger | None = None,
                 clock: Callable[[], float] = time.monotonic, rng: Callable[[], float] = random.random,
                 wait_slice: float = WAIT_SLICE, backoff: tuple[float, float] = (BACKOFF_FIRST, BACKOFF_CAP),
                 handle_signals: bool = True, heartbeat: bool = True) -> None:
        if config.daemon is None:
            raise ConfigError(config.source, "daemon", "missing table: the daemon needs at least daemon.ledger")
        if not config.inboxes:
            raise ConfigError(config.source, "inboxes", "no inbox is configured: nothing to watch")
        self.config = config
        self.settings = config.daemon
        self.engine = engine
        self.mailbox_factory = mailbox_factory or default_mailbox_factory(config)
        self.sender = sender if sender is not None else make_sender(config.delivery)
        self.dry_run = dry_run
        self.clock = clock
        self.rng = rng
        self.wait_slice = wait_slice
        self.backoff = backoff
        self.handle_signals = handle_signals
        self.heartbeat = heartbeat and not dry_run
        self.stats: dict[str, InboxStats] = {name: InboxStats() for name in config.inboxes}
        self._ledger = ledger
        self._owns_ledger = ledger is None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._stop = threading.Event()
        self._mailboxes: dict[str, Mailbox] = {}  # each worker's open mailbox, for stop() to interrupt
        self._mailboxes_lock = threading.Lock()
        self._engine_lock = threading.Lock()
        self._signals = 0
        self._once = False
        self._shown: dict[str, set[tuple[int, str]]] = {name: set() for name in config.inboxes}  # dry run

    # -- control -------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask every worker to finish the mail in hand and return (warm shutdown); safe from any thread."""
        self._stop.set()
        with self._mailboxes_lock:
            waiting = list(self._mailboxes.values())
        for mailbox in waiting:
            mailbox.interrupt()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, once: bool = False) -> int:
        """Run until `stop()` (or a signal); with ``once`` until the backlog is worked off.

        Returns the exit status: 0, or 1 when ``once`` left mail unfinished
        (delivery failed, an inbox could not be reached).
        """
        self._once = once
        self._stop.clear()
        for stats in self.stats.values():
            stats.set_state("starting")
        previous = self._install_signals()
        threads: list[threading.Thread] = []
        try:
            ledger = self._open_ledger()
            threads = [
                threading.Thread(target=self._worker, args=(inbox, ledger), name=f"triage-{name}", daemon=True)
                for name, inbox in self.config.inboxes.items()
            ]
            mode = "once" if once else "watching"
            log.info("daemon: starting (%s%s) for inboxes %s", mode, ", dry run" if self.dry_run else "",
                     ", ".join(self.config.inboxes))
            for thread in threads:
                thread.start()
            next_beat = 0.0
            while any(thread.is_alive() for thread in threads):
                if self.heartbeat and time.monotonic() >= next_beat:
                    self._write_heartbeat()
                    next_beat = time.monotonic() + HEARTBEAT_SECONDS
                for thread in threads:
                    thread.join(timeout=0.2)
        finally:
            self._stop.set()
            for thread in threads:
                thread.join()
            if self.heartbeat and threads:
                self._write_heartbeat()
            self._close_ledger()
            self._restore_signals(previous)
        unfinished = {name: s for name, s in self.stats.items() if s.pending or s.state == "given-up"}
        totals = InboxStats()
        for stats in self.stats.values():
            for key in ("done", "skipped", "renumbered", "quarantined", "failed", "deferred"):
                setattr(totals, key, getattr(totals, key) + getattr(stats, key))
        log.info("daemon: stopped: %d done (%d automated), %d renumbered, %d quarantined, %d deferred",
                 totals.done, totals.skipped, totals.renumbered, totals.quarantined, totals.deferred)
        if once and unfinished:
            for name, stats in unfinished.items():
                log.warning("inbox=%s: left unfinished: %s", name,
                            f"{stats.pending} mail(s) pending" if stats.pending else f"unreachable ({stats.last_error})")
            return 1
        return 0

    # -- signals -------------------------------------------------------------------------------------------

    def _install_signals(self) -> dict[int, Any]:
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    def _restore_signals(self, previous: dict[int, Any]) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals == 1:
            log.warning("daemon: %s: finishing the mail in hand, then stopping (send it again to stop at once)", name)
            self.stop()
            return
        log.warning("daemon: second %s: stopping at once", name)
        logging.shutdown()
        os._exit(128 + signum)

    # -- ledger and heartbeat ------------------------------------------------------------------------------

    def _open_ledger(self) -> Ledger:
        if self._ledger is not None:
            return self._ledger
        path = self.settings.ledger
        if self.dry_run and not path.exists():
            self._scratch = tempfile.TemporaryDirectory(prefix="triage-dry-run-")
            path = Path(self._scratch.name) / "ledger.sqlite3"
            log.info("daemon: dry run without a ledger at %s: using a throw-away one", self.settings.ledger)
        self._ledger = Ledger(path)
        return self._ledger

    def _close_ledger(self) -> None:
        if self._owns_ledger and self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def _write_heartbeat(self) -> None:
        path = heartbeat_path(self.config)
        data = {
            "pid": os.getpid(),
            "time": time.time(),
            "stopping": self.stopping,
            "inboxes": {
                name: {"state": s.state, "since": s.since, "last_error": s.last_error, "done": s.done,
                       "quarantined": s.quarantined, "deferred": s.deferred, "pending": s.pending}
                for name, s in self.stats.items()
            },
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("daemon: cannot write heartbeat %s: %s", path, exc)

    # -- one inbox -----------------------------------------------------------------------------------------

    def _worker(self, inbox: Inbox, ledger: Ledger) -> None:
        stats = self.stats[inbox.name]
        reconnect = Backoff(*self.backoff, rng=self.rng)
        retry = Backoff(*self.backoff, rng=self.rng)
        mailbox: Mailbox | None = None
        applier: Applier | None = None
        failures = 0
        try:
            while not self.stopping:
                try:
                    if mailbox is None:
                        stats.set_state("connecting")
                        mailbox = self.mailbox_factory(inbox)
                        with self._mailboxes_lock:
                            self._mailboxes[inbox.name] = mailbox
                        if self.stopping:
                            mailbox.interrupt()
                        mailbox.connect()
                        stats.connects += 1
                        applier = Applier(ledger, mailbox, self.sender, self.config, dry_run=self.dry_run)
                        log.info("inbox=%s: connected (uidvalidity %s)", inbox.name, mailbox.uidvalidity())
                        finished = applier.finish_interrupted()
                        if finished:
                            log.info("inbox=%s: finished %d mail(s) an earlier run left half-done", inbox.name,
                                     finished)
                    assert applier is not None
                    stats.set_state("working")
                    complete = self._pass(inbox, mailbox, applier, stats)
                    reconnect.reset()
                    failures = 0
                    if self._once:
                        return
                    delay: float | None = None
                    if complete:
                        retry.reset()
                    else:
                        delay = retry.next()
                        log.info("inbox=%s: %d mail(s) left pending; next try in %.1f s", inbox.name, stats.pending,
                                 delay)
                    stats.set_state("idle")
                    self._idle(inbox, mailbox, delay)
                except (MailboxError, LedgerError) as exc:
                    failures += 1
                    stats.connection_errors += 1
                    stats.last_error = str(exc)
                    _close(mailbox, inbox.name)
                    mailbox, applier = None, None
                    if self._once and failures >= ONCE_CONNECT_TRIES:
                        log.error("inbox=%s: giving up after %d tries: %s", inbox.name, failures, exc)
                        stats.set_state("given-up")
                        return
                    delay = reconnect.next()
                    stats.set_state("backoff")
                    log.warning("inbox=%s: %s; reconnecting in %.1f s", inbox.name, exc, delay)
                    self._stop.wait(delay)
                except Exception:  # a bug must not end the daemon: log it whole, back off, go on
                    failures += 1
                    stats.connection_errors += 1
                    log.exception("inbox=%s: unexpected error", inbox.name)
                    stats.last_error = "unexpected error (see log)"
                    _close(mailbox, inbox.name)
                    mailbox, applier = None, None
                    if self._once and failures >= ONCE_CONNECT_TRIES:
                        stats.set_state("given-up")
                        return
                    delay = reconnect.next()
                    stats.set_state("backoff")
                    self._stop.wait(delay)
        finally:
            _close(mailbox, inbox.name)
            if stats.state != "given-up":
                stats.set_state("stopped")
            log.info("inbox=%s: stopped", inbox.name)

    def _idle(self, inbox: Inbox, mailbox: Mailbox, retry_in: float | None) -> None:
        """Wait for new mail, a due retry, the periodic rescan (``poll_interval``) or stop(), whichever is first."""
        start = self.clock()
        rescan = inbox.poll_interval if retry_in is None else min(retry_in, inbox.poll_interval)
        due = start + rescan
        while not self.stopping:
            left = due - self.clock()
            if left <= 0:
                return
            if mailbox.wait(min(self.wait_slice, left)):
                log.debug("inbox=%s: new mail", inbox.name)
                return

    def _pass(self, inbox: Inbox, mailbox: Mailbox, applier: Applier, stats: InboxStats) -> bool:
        """Work off the inbox's untriaged mail once; True when nothing is left pending."""
        refs = mailbox.untriaged()
        if self.dry_run:  # nothing gets marked in a dry run: show each mail once per run
            shown = self._shown[inbox.name]
            refs = [ref for ref in refs if (ref.uidvalidity, ref.uid) not in shown]
            shown.update((ref.uidvalidity, ref.uid) for ref in refs)
        total = len(refs)
        if not total:
            stats.pending = 0
            return True
        log.info("inbox=%s: %d untriaged mail(s)", inbox.name, total)
        every = self.settings.progress_every
        started = self.clock()
        deferred = 0
        delivery_failures = 0
        retry: list[MessageRef] = []
        handled = 0
        for ref in refs:
            if self.stopping:
                break
            outcome = self._handle(ref, mailbox, applier, stats)
            handled += 1
            if outcome == "deferred":
                deferred += 1
                delivery_failures += 1
                if delivery_failures >= DELIVERY_FAILURES_PER_PASS:
                    log.warning("inbox=%s: delivery failed %d times in a row: ending this pass, trying again later",
                                inbox.name, delivery_failures)
                    break
            else:
                delivery_failures = 0
                if outcome == "failed" and not self.dry_run:  # a dry run counts no attempts: no use trying again
                    retry.append(ref)
            if total >= every and handled % every == 0:
                elapsed = max(self.clock() - started, 1e-9)
                log.info("inbox=%s: progress %d/%d mails (%.1f mails/s)", inbox.name, handled, total,
                         handled / elapsed)
        # Mails that failed to parse or classify get their remaining attempts after the rest of the pass.
        while retry and not self.stopping:
            again = []
            for ref in retry:
                if self.stopping:
                    break
                if self._handle(ref, mailbox, applier, stats) == "failed":
                    again.append(ref)
            retry = again
        left = total - handled
        stats.pending = deferred + len(retry) + left
        if total >= every:
            elapsed = max(self.clock() - started, 1e-9)
            log.info("inbox=%s: backlog of %d mails worked off in %.1f s (%.1f mails/s)", inbox.name, handled,
                     elapsed, handled / elapsed)
        return stats.pending == 0

    def _handle(self, ref: MessageRef, mailbox: Mailbox, applier: Applier, stats: InboxStats) -> str:
        """Triage one mail and apply the decision. Returns what happened:

        ``done``, ``renumbered``, ``quarantined``, ``failed`` (attempt counted),
        ``deferred`` (delivery failed; pending) or ``seen`` (dry run: already shown).
        `MailboxError` and `LedgerError` propagate (the worker reconnects).
        """
        ledger = applier.ledger
        limit = self.settings.max_message_bytes
        if ref.size > limit:
            return self._quarantine_oversize(ref, mailbox, applier, stats, ref.size)
        record = ledger.find(ref.inbox, ref.uidvalidity, ref.uid)
        if record is not None and record.decision is None and record.attempts >= self.settings.max_attempts:
            return self._quarantine(ref, applier, stats, record.last_error or "too many failed attempts", None)
        raw = mailbox.fetch(ref, limit + 1)
        if len(raw) > limit:
            return self._quarantine_oversize(ref, mailbox, applier, stats, len(raw))
        who = _who(ref)
        try:
            with self._engine_lock:
                outcome = self.engine.triage_raw([raw], [who])[0]
            error = outcome.error
        except Exception as exc:  # the model or a rule failed on this mail
            log.exception("%s: classification failed", who)
            outcome, error = None, f"classification failed: {type(exc).__name__}: {exc}"
        if error is not None or outcome is None or outcome.mail is None:
            return self._failed(ref, applier, stats, error or "no decision", raw)
        mail = outcome.mail
        ref = replace(ref, message_id=ref.message_id or mail.message_id)
        who = _who(ref)
        try:
            if record is None or record.decision is None:
                digest = content_hash(raw)
                earlier = ledger.find_done(ref.inbox, ref.message_id, digest)
                if earlier is not None and (earlier.uidvalidity, earlier.uid) != (ref.uidvalidity, ref.uid):
                    applier.renumbered(ref, earlier)
                    stats.renumbered += 1
                    return "renumbered"
                half_done = ledger.find_unfinished(ref.inbox, ref.message_id, digest)
                if half_done is not None and (half_done.uidvalidity, half_done.uid) != (ref.uidvalidity, ref.uid):
                    # Renumbered while its actions were under way: carry on with them, never start anew.
                    if not self.dry_run:
                        ledger.renumber(half_done.id, ref.uidvalidity, ref.uid)
                    log.info("%s: renumbered while half done (was uidvalidity=%s uid=%s): resuming its actions",
                             who, half_done.uidvalidity, half_done.uid)
            elif record.state == "done":
                # Done and recorded, yet the inbox lists it as untriaged: the mark was lost (e.g. a server crash).
                decision = decision_from_json(record.decision)
                if not self.dry_run:
                    mailbox.mark(ref, mark_keywords(decision), flagged=decision.legal_warning)
                log.info("%s: done earlier but unmarked: marked again", who)
                return "done"
            result = applier.apply(ref, raw, mail, outcome.decision)
        except DeliveryError as exc:
            stats.deferred += 1
            stats.last_error = str(exc)
            log.warning("%s: delivery failed, left pending for a later try: %s", who, exc)
            return "deferred"
        except (MailboxError, LedgerError):
            raise
        except Exception as exc:  # building or applying failed on this mail: count an attempt
            log.exception("%s: applying the decision failed", who)
            return self._failed(ref, applier, stats, f"apply failed: {type(exc).__name__}: {exc}", raw)
        decision = outcome.decision
        if result.state == "dry-run":
            return "seen"
        stats.done += 1
        if decision is not None and decision.skipped:
            stats.skipped += 1
        return "done"

    def _failed(self, ref: MessageRef, applier: Applier, stats: InboxStats, error: str, raw: bytes) -> str:
        who = _who(ref)
        stats.failed += 1
        if self.dry_run:
            log.warning("%s: cannot triage (dry run, no attempt counted): %s", who, error)
            return "failed"
        attempts = applier.ledger.add_attempt(ref.inbox, ref.uidvalidity, ref.uid, error, ref.message_id,
                                              content_hash(raw))
        if attempts >= self.settings.max_attempts:
            return self._quarantine(ref, applier, stats, f"{error} (after {attempts} attempts)", raw)
        log.warning("%s: cannot triage (attempt %d of %d): %s", who, attempts, self.settings.max_attempts, error)
        return "failed"

    def _quarantine_oversize(self, ref: MessageRef, mailbox: Mailbox, applier: Applier, stats: InboxStats,
                             size: int) -> str:
        if not ref.message_id:
            head = mailbox.fetch(ref, HEADER_BYTES)
            ref = replace(ref, message_id=message_id_of(head))
        reason = f"too large: {size} bytes (daemon.max_message_bytes is {self.settings.max_message_bytes})"
        return self._quarantine(ref, applier, stats, reason, None)

    def _quarantine(self, ref: MessageRef, applier: Applier, stats: InboxStats, reason: str,
                    raw: bytes | None) -> str:
        applier.quarantine(ref, reason, raw)
        stats.quarantined += 1
        return "quarantined"


def _who(ref: MessageRef) -> str:
    return f"inbox={ref.inbox} uid={ref.uid} message_id={ref.message_id or '-'}"


def _close(mailbox: Mailbox | None, name: str) -> None:
    if mailbox is None:
        return
    try:
        mailbox.close()
    except TriageError as exc:
        log.debug("inbox=%s: while closing: %s", name, exc)
    except Exception:  # closing must never hide the error that made us close
        log.debug("inbox=%s: while closing", name, exc_info=True)
