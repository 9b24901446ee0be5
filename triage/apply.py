"""Carry out one mail's `Decision`: forward, draft, alert, mark, move, each recorded in the ledger.

The order is fixed (see ``docs/daemon-design.md``)::

    forward → draft → alert → mark → move

Each action is recorded ``pending`` before it starts and ``done`` right after
it succeeded; a rerun skips what is done, so a crash between two actions
costs nothing but the unfinished one. The draft and the alert carry
deterministic Message-IDs, and the draft is appended only when
`Mailbox.contains` does not find it already, so a retried append never
duplicates it. The mail is marked ``$Triaged`` only after forward, draft and
alert are done: until then it stays "new" for the daemon.

Errors: `Applier.apply` re-raises. `DeliveryError` (SMTP down) and
`MailboxError` (inbox unreachable) leave the failed action pending and the
mail unmarked; the daemon retries later with backoff and does not count them
as attempts. Any other exception is the mail's own fault: it is recorded as
the mail's last error and re-raised for the daemon to count as an attempt.
`Applier` never counts attempts itself.

Dry-run decides and logs what it would do; it sends, stores, marks and
records nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

from triage.config import Config, Inbox
from triage.decision import Decision
from triage.drafts import draft_message
from triage.errors import DeliveryError, MailboxError
from triage.forwarding import action_message_id, alert_message, forward_message, with_message_id
from triage.ledger import Ledger, MailRecord, decision_from_json
from triage.mail import Mail
from triage.mailbox import TRIAGED_KEYWORD, Mailbox, MessageRef
from triage.smtp import Sender

log = logging.getLogger(__name__)

SIMILAR_DAYS = 30  # "similar recent reports" counts technical problems of the last this many days
LEGAL_KEYWORD = "$Legal"
SKIPPED_FOLDER = "skipped"  # under group_folder_prefix, for automated mail when moving is on
DRAFT_FLAGS = ["\\Draft"]


@dataclass(frozen=True)
class Applied:
    """What `Applier.apply` did: ``state`` is ``done``, ``already-done``, ``quarantined`` or ``dry-run``.

    ``actions`` were carried out by this call (dry-run: would be);
    ``earlier`` were already done by an earlier run.
    """

    state: str
    actions: tuple[str, ...] = ()
    earlier: tuple[str, ...] = ()


def content_hash(raw: bytes) -> str:
    """The sha256 the ledger keeps of a message's raw bytes."""
    return hashlib.sha256(raw).hexdigest()


def keyword(text: str) -> str:
    """``text`` as an IMAP keyword atom (no spaces, brackets, wildcards, quotes or backslashes)."""
    return re.sub(r"[^A-Za-z0-9$_.+-]", "_", text) or "_"


def mark_keywords(decision: Decision) -> list[str]:
    """The keywords a mail gets: ``$Triaged`` and its topic (or why it was skipped), ``$Legal`` for legal warnings."""
    if decision.skipped:
        return [TRIAGED_KEYWORD, keyword(f"$Skipped_{decision.skipped}")]
    words = [TRIAGED_KEYWORD, keyword(f"$Topic_{decision.topic}")]
    if decision.legal_warning:
        words.append(LEGAL_KEYWORD)
    return words


def _who(ref: MessageRef, message_id: str = "") -> str:
    return f"inbox={ref.inbox} uid={ref.uid} message_id={ref.message_id or message_id or '-'}"


class Applier:
    """Carries out decisions for the mail of one inbox (``mailbox``), sending through ``sender``.

    One `Applier` per inbox worker thread; the `Ledger` may be shared.
    """

    def __init__(self, ledger: Ledger, mailbox: Mailbox, sender: Sender, config: Config, dry_run: bool = False,
                 similar_days: int = SIMILAR_DAYS) -> None:
        if mailbox.name not in config.inboxes:
            raise ValueError(f"inbox {mailbox.name!r} is not configured (known: {', '.join(sorted(config.inboxes))})")
        self.ledger = ledger
        self.mailbox = mailbox
        self.sender = sender
        self.config = config
        self.inbox: Inbox = config.inboxes[mailbox.name]
        self.dry_run = dry_run
        self.similar_days = similar_days

    # -- planning ------------------------------------------------------------------------------------------

    def plan(self, decision: Decision) -> list[str]:
        """The actions ``decision`` calls for, in order."""
        actions = []
        if not decision.skipped:
            if decision.group_address:
                actions.append("forward")
            if decision.draft:
                actions.append("draft")
            if decision.legal_warning and self.config.alerts is not None:
                actions.append("alert")
        actions.append("mark")
        if self.inbox.move_to_group_folder and self.move_folder(decision):
            actions.append("move")
        return actions

    def move_folder(self, decision: Decision) -> str | None:
        """Where the mail is filed when moving is on: ``<prefix>/<group>`` (automated mail: ``<prefix>/skipped``)."""
        name = SKIPPED_FOLDER if decision.skipped else decision.group
        return f"{self.inbox.group_folder_prefix}/{name}" if name else None

    # -- carrying out --------------------------------------------------------------------------------------

    def apply(self, ref: MessageRef, raw: bytes, mail: Mail, decision: Decision | None = None) -> Applied:
        """Record the mail and its planned actions, then carry out those not done yet.

        ``decision`` may be None when the ledger already holds one: a mail
        with a recorded decision is always resumed with that decision, so its
        forward, draft and marks stay consistent even if the model changed.
        Raises what an action raised (see the module documentation).
        """
        record = self.ledger.find(ref.inbox, ref.uidvalidity, ref.uid)
        who = _who(ref, mail.message_id)
        if record is not None and record.decision is not None:
            stored = decision_from_json(record.decision)
            if decision is not None and decision != stored:
                log.info("%s: resuming with the decision recorded earlier", who)
            decision = stored
        if decision is None:
            raise ValueError(f"{who}: no decision given and none recorded")
        if record is not None and record.state in ("done", "quarantined"):
            log.info("%s: already %s, nothing to do", who, record.state)
            return Applied("already-done" if record.state == "done" else "quarantined")
        plan = self.plan(decision)
        self._warn_missing_alert(who, decision)
        if self.dry_run:
            return self._dry_run(who, ref, decision, plan, record)

        record = self.ledger.record_mail(ref.inbox, ref.uidvalidity, ref.uid, ref.message_id or mail.message_id,
                                         content_hash(raw))
        if record.decision is None:
            similar = None
            if decision.technical_problem and not decision.skipped:
                similar = self.ledger.count_similar(decision.topic, decision.product, self.similar_days,
                                                    exclude_mail_id=record.id)
            record = self.ledger.record_decision(record.id, decision, plan, similar)
            log.info("%s: decided topic=%s group=%s skipped=%s; actions %s", who, decision.topic, decision.group,
                     decision.skipped, ", ".join(plan))
        done_now: list[str] = []
        earlier: list[str] = []
        for action in self.ledger.actions(record.id):
            if action.state == "done":
                earlier.append(action.kind)
                continue
            try:
                detail = self._carry_out(action.kind, ref, raw, mail, decision, record)
            except (DeliveryError, MailboxError) as exc:
                self.ledger.set_error(record.id, f"{action.kind}: {exc}")
                log.warning("%s: %s failed, stays pending and the mail unmarked: %s", who, action.kind, exc)
                raise
            except Exception as exc:
                self.ledger.set_error(record.id, f"{action.kind}: {type(exc).__name__}: {exc}")
                log.error("%s: %s failed: %s: %s", who, action.kind, type(exc).__name__, exc)
                raise
            self.ledger.set_action(record.id, action.kind, "done", detail)
            log.info("%s: %s done: %s", who, action.kind, detail)
            done_now.append(action.kind)
        self.ledger.set_state(record.id, "done")
        if earlier:
            log.info("%s: finished (%s done earlier)", who, ", ".join(earlier))
        return Applied("done", tuple(done_now), tuple(earlier))

    def _carry_out(self, kind: str, ref: MessageRef, raw: bytes, mail: Mail, decision: Decision,
                   record: MailRecord) -> str:
        delivery = self.config.delivery
        if kind == "forward":
            assert decision.group_address
            message = forward_message(raw, mail, decision, ref.inbox, record.similar_count, delivery.sender,
                                      uidvalidity=ref.uidvalidity, uid=ref.uid, similar_days=self.similar_days)
            return f"to {decision.group_address}: " + self.sender.send(message, delivery.sender,
                                                                       [decision.group_address])
        if kind == "draft":
            assert decision.draft
            # A draft answers from the inbox the customer wrote to; its signature names the team of the matter.
            from_address = self.config.teams[self.inbox.team].address
            message_id = action_message_id(ref.inbox, ref.uidvalidity, ref.uid, "draft", from_address)
            folder = self.inbox.drafts_folder
            if self.mailbox.contains(folder, "Message-ID", message_id):
                return f"{folder} already holds {message_id}"
            draft = draft_message(mail, decision.draft, from_address, self.config.drafts.company)
            self.mailbox.append(folder, with_message_id(draft, message_id), list(DRAFT_FLAGS))
            return f"{folder} {message_id}"
        if kind == "alert":
            alerts = self.config.alerts
            assert alerts is not None
            message = alert_message(raw, mail, decision, ref.inbox, alerts, delivery.sender,
                                    uidvalidity=ref.uidvalidity, uid=ref.uid)
            return f"to {alerts.cleanup_address}: " + self.sender.send(message, delivery.sender,
                                                                       [alerts.cleanup_address])
        if kind == "mark":
            return self._mark(ref, decision)
        if kind == "move":
            folder = self.move_folder(decision)
            assert folder
            self.mailbox.move(ref, folder)
            return f"to {folder}"
        raise ValueError(f"unknown action {kind!r}")

    def _mark(self, ref: MessageRef, decision: Decision) -> str:
        words = mark_keywords(decision)
        self.mailbox.mark(ref, words, flagged=decision.legal_warning)
        return " ".join(words + (["\\Flagged"] if decision.legal_warning else []))

    def _dry_run(self, who: str, ref: MessageRef, decision: Decision, plan: list[str],
                 record: MailRecord | None) -> Applied:
        done = set()
        if record is not None:
            done = {a.kind for a in self.ledger.actions(record.id) if a.state == "done"}
        todo = [kind for kind in plan if kind not in done]
        for kind in todo:
            log.info("%s: dry-run: would %s", who, self._describe(kind, decision))
        return Applied("dry-run", tuple(todo), tuple(kind for kind in plan if kind in done))

    def _describe(self, kind: str, decision: Decision) -> str:
        if kind == "forward":
            return f"forward to {decision.group_address} (group {decision.group}, topic {decision.topic})"
        if kind == "draft":
            return f"store a {decision.draft_kind} draft in {self.inbox.drafts_folder}"
        if kind == "alert":
            return f"alert {self.config.alerts.cleanup_address if self.config.alerts else '?'} (legal warning)"
        if kind == "mark":
            words = mark_keywords(decision) + (["\\Flagged"] if decision.legal_warning else [])
            return "mark " + " ".join(words)
        return f"move to {self.move_folder(decision)}"

    def _warn_missing_alert(self, who: str, decision: Decision) -> None:
        if decision.legal_warning and not decision.skipped and self.config.alerts is None:
            log.error("%s: legal warning, but no [alerts] cleanup_address is configured: no clean-up alert is sent; "
                      "the forward and the $Legal flag are all there is", who)

    # -- other paths ---------------------------------------------------------------------------------------

    def renumbered(self, ref: MessageRef, record: MailRecord) -> None:
        """A mail done under an old UIDVALIDITY (found by `Ledger.find_done`): record its new UID and mark it again."""
        who = _who(ref, record.message_id)
        if record.decision is None:
            raise ValueError(f"{who}: ledger mail #{record.id} holds no decision")
        decision = decision_from_json(record.decision)
        if self.dry_run:
            log.info("%s: dry-run: would record the new uid (was uidvalidity=%s uid=%s) and %s", who,
                     record.uidvalidity, record.uid, self._describe("mark", decision))
            return
        detail = self._mark(ref, decision)
        self.ledger.renumber(record.id, ref.uidvalidity, ref.uid)
        log.info("%s: renumbered (was uidvalidity=%s uid=%s), marked again: %s", who, record.uidvalidity, record.uid,
                 detail)

    def quarantine(self, ref: MessageRef, reason: str, raw: bytes | None = None) -> None:
        """Move a mail that cannot be triaged to the quarantine folder and record why."""
        folder = self.inbox.quarantine_folder
        who = _who(ref)
        if self.dry_run:
            log.warning("%s: dry-run: would quarantine to %s: %s", who, folder, reason)
            return
        record = self.ledger.record_mail(ref.inbox, ref.uidvalidity, ref.uid, ref.message_id,
                                         content_hash(raw) if raw is not None else "")
        self.ledger.set_action(record.id, "quarantine", "pending", reason)
        try:
            self.mailbox.move(ref, folder)
        except Exception as exc:
            self.ledger.set_error(record.id, f"quarantine: {exc}")
            raise
        self.ledger.set_action(record.id, "quarantine", "done", f"to {folder}: {reason}")
        self.ledger.set_state(record.id, "quarantined", error=reason)
        log.warning("%s: quarantined to %s: %s", who, folder, reason)

    def finish_interrupted(self) -> int:
        """Finish mails of this inbox that a crash left with nothing but ``mark`` and ``move`` to do; how many.

        Such a mail may already carry ``$Triaged`` (the crash came after the
        mark reached the server but before the ledger heard of it), so
        `Mailbox.untriaged` no longer lists it; call this once after
        connecting. Marking again is harmless. Mails recorded under another
        UIDVALIDITY are left alone: their UIDs no longer name them.
        """
        current: int | None = None
        finished = 0
        for record in self.ledger.unfinished(self.mailbox.name):
            kinds = [a.kind for a in self.ledger.actions(record.id) if a.state == "pending"]
            if not set(kinds) <= {"mark", "move"} or record.decision is None:
                continue  # forward, draft or alert still to do: the mail is unmarked and comes back as new
            ref = MessageRef(record.inbox, record.uidvalidity, record.uid, 0, record.message_id)
            who = _who(ref)
            if kinds:
                if current is None:
                    current = self.mailbox.uidvalidity()
                if record.uidvalidity != current:
                    log.info("%s: interrupted before %s, but UIDVALIDITY is now %s: left alone", who,
                             " and ".join(kinds), current)
                    continue
            if self.dry_run:
                log.info("%s: dry-run: would finish %s", who, " and ".join(kinds) or "the record")
                continue
            decision = decision_from_json(record.decision)
            for kind in kinds:
                detail = self._carry_out(kind, ref, b"", Mail(), decision, record)
                self.ledger.set_action(record.id, kind, "done", detail)
                log.info("%s: %s done (finishing an interrupted run): %s", who, kind, detail)
            self.ledger.set_state(record.id, "done")
            finished += 1
        return finished
