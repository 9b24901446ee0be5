"""Carrying out decisions: each action once, resumed after crashes, held back while SMTP is down, dry-run inert.

Pure logic runs on a small in-test `Mailbox` and the Maildir delivery; one
set of tests sends through a real SMTP server (aiosmtpd) that goes down and
comes back.
"""

from __future__ import annotations

import email
import logging
from dataclasses import replace
from email import policy
from pathlib import Path

import pytest

from triage.apply import Applier, mark_keywords
from triage.config import Alerts, Config, DaemonConfig, Delivery, Inbox
from triage.decision import Decision
from triage.drafts import DraftFacts, Drafter
from triage.errors import DeliveryError, MailboxError
from triage.forwarding import action_message_id
from triage.ledger import Ledger
from triage.mail import Mail
from triage.mailbox import MessageRef
from triage.parsing import parse_mail
from triage.smtp import MaildirSender, SmtpSender
from smtp_sink import smtp_sink  # noqa: F401 (fixture)

SENDER = "triage@example.com"
ALERTS = Alerts("cleanup@example.com", ("example.com",))


class Crash(BaseException):
    """A simulated kill -9: nothing after it runs, nothing catches it."""


class FakeMailbox:
    """The `Mailbox` protocol in memory, with switches to fail before or crash right after an operation."""

    def __init__(self, name: str = "support", uidvalidity: int = 7) -> None:
        self.name = name
        self.validity = uidvalidity
        self.folders: dict[str, list[tuple[bytes, list[str]]]] = {}
        self.keywords: dict[str, set[str]] = {}
        self.flagged: set[str] = set()
        self.moved: list[tuple[str, str]] = []
        self.calls: list[str] = []
        self.fail: dict[str, Exception] = {}  # operation -> raised before it does anything (once)
        self.crash_after: set[str] = set()  # operation -> done, then Crash (once)

    def _before(self, operation: str) -> None:
        self.calls.append(operation)
        if operation in self.fail:
            raise self.fail.pop(operation)

    def _after(self, operation: str) -> None:
        if operation in self.crash_after:
            self.crash_after.discard(operation)
            raise Crash(operation)

    def connect(self) -> None:
        pass

    def close(self) -> None:
        pass

    def uidvalidity(self) -> int:
        self.calls.append("uidvalidity")
        return self.validity

    def untriaged(self) -> list[MessageRef]:
        return []

    def fetch(self, ref: MessageRef, limit: int | None = None) -> bytes:
        raise NotImplementedError

    def mark(self, ref: MessageRef, keywords: list[str], flagged: bool = False) -> None:
        self._before("mark")
        self.keywords.setdefault(ref.uid, set()).update(keywords)
        if flagged:
            self.flagged.add(ref.uid)
        self._after("mark")

    def move(self, ref: MessageRef, folder: str) -> None:
        self._before("move")
        self.moved.append((ref.uid, folder))
        self._after("move")

    def append(self, folder: str, raw: bytes, flags: list[str]) -> None:
        self._before("append")
        self.folders.setdefault(folder, []).append((raw, list(flags)))
        self._after("append")

    def contains(self, folder: str, header: str, value: str) -> bool:
        self._before("contains")
        return any(email.message_from_bytes(raw).get(header) == value for raw, _ in self.folders.get(folder, []))

    def wait(self, timeout: float) -> bool:
        return False


def _raw(uid: str, subject: str = "Upload geht nicht", body: str = "") -> bytes:
    body = body or ("Hallo, beim Hochladen meiner Pressemitteilung kommt Fehler 500.\r\n"
                    "Siehe https://www.example.com/pm/1\r\nGruss Erika Muster")
    return (f"From: Erika Muster <erika@kunde.example>\r\nTo: support@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <m{uid}@kunde.example>\r\nDate: Tue, 07 May 2024 10:00:00 +0200\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def _ref(uid: str, raw: bytes, uidvalidity: int = 7) -> MessageRef:
    return MessageRef("support", uidvalidity, uid, len(raw), f"<m{uid}@kunde.example>")


def _config(base: Config, tmp_path: Path, *, move: bool = False, delivery: Delivery | None = None,
            alerts: Alerts | None = ALERTS) -> Config:
    inbox = Inbox(name="support", kind="maildir", team="support", path=tmp_path / "inbox", move_to_group_folder=move)
    return replace(base, inboxes={"support": inbox},
                   delivery=delivery or Delivery(kind="maildir", maildir_root=tmp_path / "out", sender=SENDER),
                   alerts=alerts, daemon=DaemonConfig(ledger=tmp_path / "ledger.sqlite3"))


def technical(config: Config, mail: Mail) -> Decision:
    group = config.group_for("prgateway-support", "de")
    missing = ("os", "browser", "urgency")
    draft = Drafter(config).render(mail, DraftFacts(kind="technical", language="de", topic="prgateway-support",
                                                    product="prgateway", missing=missing))
    return Decision(skipped=None, language="de", topic="prgateway-support", product="prgateway", confidence=0.83,
                    group=group.name, group_address=group.address, guesses=(("prgateway-support", 0.83),),
                    technical_problem=True, urls=("https://www.example.com/pm/1",), missing_details=missing,
                    draft=draft, draft_kind="technical", team_address=config.team_for("prgateway-support").address)


def legal_deletion(config: Config) -> Decision:
    group = config.group_for("deletion", "de")
    return Decision(skipped=None, language="de", topic="deletion", product="prgateway", confidence=0.9,
                    group=group.name, group_address=group.address, legal_warning=True,
                    urls=("https://www.example.com/pm/1", "https://elsewhere.org/x"),
                    draft="Guten Tag,\nbitte nennen Sie alle URLs.\n", draft_kind="deletion",
                    team_address=config.team_for("deletion").address)


SKIPPED = Decision(skipped="auto-reply", language="de", topic="unsorted", product="unknown", confidence=0.0, group=None)


def delivered(root: Path, address: str) -> list[bytes]:
    folder = root / address / "new"
    return [p.read_bytes() for p in sorted(folder.iterdir())] if folder.is_dir() else []


@pytest.fixture
def setup(config, tmp_path):
    """A config with one Maildir-delivered inbox, an open ledger, a fake mailbox and an applier over them."""
    cfg = _config(config, tmp_path)
    ledger = Ledger(cfg.daemon.ledger)
    mailbox = FakeMailbox()
    applier = Applier(ledger, mailbox, MaildirSender(cfg.delivery), cfg)
    yield cfg, ledger, mailbox, applier
    ledger.close()


def test_a_technical_mail_is_forwarded_drafted_and_marked_once(setup, tmp_path):
    cfg, ledger, mailbox, applier = setup
    raw = _raw("1")
    mail = parse_mail(raw)
    decision = technical(cfg, mail)
    result = applier.apply(_ref("1", raw), raw, mail, decision)
    assert (result.state, result.actions, result.earlier) == ("done", ("forward", "draft", "mark"), ())

    forwards = delivered(tmp_path / "out", decision.group_address)
    assert len(forwards) == 1
    forward = email.message_from_bytes(forwards[0], policy=policy.default)
    assert forward["X-Triage-Loop"] == "yes"
    assert forward["Subject"] == "[triage] prgateway-support | Upload geht nicht"
    assert list(forward.iter_parts())[1].get_content_type() == "message/rfc822"

    [(draft_raw, flags)] = mailbox.folders["Drafts"]
    assert flags == ["\\Draft"]
    draft = email.message_from_bytes(draft_raw, policy=policy.default)
    assert draft["Message-ID"] == action_message_id("support", 7, "1", "draft", decision.team_address)
    assert draft["In-Reply-To"] == "<m1@kunde.example>"
    assert draft["To"] == "erika@kunde.example"
    assert mailbox.keywords["1"] == {"$Triaged", "$Topic_prgateway-support"}
    assert mailbox.flagged == set()
    assert mailbox.moved == []

    record = ledger.find("support", 7, "1")
    assert record.state == "done" and record.message_id == "<m1@kunde.example>" and len(record.sha256) == 64
    assert [(a.kind, a.state) for a in ledger.actions(record.id)] == [
        ("forward", "done"), ("draft", "done"), ("mark", "done")]
    assert ledger.pending_actions() == []

    again = applier.apply(_ref("1", raw), raw, mail, decision)
    assert again.state == "already-done" and again.actions == ()
    assert len(delivered(tmp_path / "out", decision.group_address)) == 1
    assert len(mailbox.folders["Drafts"]) == 1


def test_legal_warning_raises_the_alert_and_flags_the_mail(setup, tmp_path):
    cfg, ledger, mailbox, applier = setup
    raw = _raw("2", subject="Loeschung wegen Abmahnung", body="Wir haben eine Abmahnung erhalten. Bitte loeschen.")
    result = applier.apply(_ref("2", raw), raw, parse_mail(raw), legal_deletion(cfg))
    assert result.actions == ("forward", "draft", "alert", "mark")
    [alert] = delivered(tmp_path / "out", "cleanup@example.com")
    parsed = email.message_from_bytes(alert, policy=policy.default)
    assert parsed["Subject"].startswith("[triage] URGENT legal warning")
    assert "https://www.example.com/pm/1" in parsed.get_body(("plain",)).get_content()
    assert len(delivered(tmp_path / "out", "deletion@example.com")) == 1
    assert mailbox.keywords["2"] == {"$Triaged", "$Topic_deletion", "$Legal"}
    assert mailbox.flagged == {"2"}


def test_legal_warning_without_alerts_configured_logs_an_error_and_still_flags(config, tmp_path, caplog):
    cfg = _config(config, tmp_path, alerts=None)
    mailbox = FakeMailbox()
    with Ledger(cfg.daemon.ledger) as ledger:
        raw = _raw("2")
        with caplog.at_level(logging.ERROR, logger="triage.apply"):
            result = Applier(ledger, mailbox, MaildirSender(cfg.delivery), cfg).apply(
                _ref("2", raw), raw, parse_mail(raw), legal_deletion(cfg))
    assert result.actions == ("forward", "draft", "mark")
    assert "no clean-up alert" in caplog.text
    assert mailbox.flagged == {"2"}


def test_automated_mail_is_only_marked_as_skipped(setup, tmp_path):
    cfg, ledger, mailbox, applier = setup
    raw = _raw("3", subject="Abwesenheitsnotiz")
    result = applier.apply(_ref("3", raw), raw, parse_mail(raw), SKIPPED)
    assert result.actions == ("mark",)
    assert mailbox.keywords["3"] == {"$Triaged", "$Skipped_auto-reply"}
    assert not (tmp_path / "out").exists()
    assert "Drafts" not in mailbox.folders
    assert mark_keywords(replace(SKIPPED, skipped="weird reason(1)")) == ["$Triaged", "$Skipped_weird_reason_1_"]


def test_mail_is_moved_to_its_group_folder_after_marking(config, tmp_path):
    cfg = _config(config, tmp_path, move=True)
    mailbox = FakeMailbox()
    with Ledger(cfg.daemon.ledger) as ledger:
        applier = Applier(ledger, mailbox, MaildirSender(cfg.delivery), cfg)
        raw = _raw("4")
        mail = parse_mail(raw)
        assert applier.apply(_ref("4", raw), raw, mail, technical(cfg, mail)).actions[-2:] == ("mark", "move")
        raw = _raw("5", subject="Out of office")
        applier.apply(_ref("5", raw), raw, parse_mail(raw), SKIPPED)
    assert mailbox.moved == [("4", "Triaged/prgateway-support"), ("5", "Triaged/skipped")]
    assert mailbox.calls.index("mark") < mailbox.calls.index("move")


def test_rerun_after_a_crash_between_draft_and_ledger_completes_only_the_rest(config, tmp_path):
    cfg = _config(config, tmp_path)
    raw = _raw("6")
    mail = parse_mail(raw)
    decision = technical(cfg, mail)
    mailbox = FakeMailbox()
    mailbox.crash_after.add("append")  # the draft reaches the server, the process dies before the ledger hears
    ledger = Ledger(cfg.daemon.ledger)
    with pytest.raises(Crash):
        Applier(ledger, mailbox, MaildirSender(cfg.delivery), cfg).apply(_ref("6", raw), raw, mail, decision)
    ledger.close()

    with Ledger(cfg.daemon.ledger) as ledger:  # the restart
        states = {a.kind: a.state for a in ledger.actions(ledger.find("support", 7, "6").id)}
        assert states == {"forward": "done", "draft": "pending", "mark": "pending"}
        assert "6" not in mailbox.keywords
        result = Applier(ledger, mailbox, MaildirSender(cfg.delivery), cfg).apply(_ref("6", raw), raw, mail)
        assert (result.actions, result.earlier) == (("draft", "mark"), ("forward",))
        assert ledger.find("support", 7, "6").state == "done"
    assert len(delivered(tmp_path / "out", decision.group_address)) == 1
    assert len(mailbox.folders["Drafts"]) == 1  # found by its Message-ID, not appended again
    assert mailbox.keywords["6"] == {"$Triaged", "$Topic_prgateway-support"}


def test_a_crash_after_the_forward_resends_nothing(config, tmp_path):
    cfg = _config(config, tmp_path)
    raw = _raw("7")
    mail = parse_mail(raw)
    decision = technical(cfg, mail)
    mailbox = FakeMailbox()
    mailbox.fail["contains"] = Crash("between forward and draft")
    with Ledger(cfg.daemon.ledger) as ledger:
        with pytest.raises(Crash):
            Applier(ledger, mailbox, MaildirSender(cfg.delivery), cfg).apply(_ref("7", raw), raw, mail, decision)
    with Ledger(cfg.daemon.ledger) as ledger:
        result = Applier(ledger, mailbox, MaildirSender(cfg.delivery), cfg).apply(_ref("7", raw), raw, mail, decision)
    assert result.earlier == ("forward",)
    assert len(delivered(tmp_path / "out", decision.group_address)) == 1
    assert len(mailbox.folders["Drafts"]) == 1


def test_a_crash_after_marking_is_finished_without_the_mail_coming_back(config, tmp_path):
    cfg = _config(config, tmp_path, move=True)
    raw = _raw("8")
    mail = parse_mail(raw)
    mailbox = FakeMailbox()
    mailbox.crash_after.add("mark")  # marked on the server: untriaged() will not list it again
    with Ledger(cfg.daemon.ledger) as ledger:
        with pytest.raises(Crash):
            Applier(ledger, mailbox, MaildirSender(cfg.delivery), cfg).apply(_ref("8", raw), raw, mail,
                                                                             technical(cfg, mail))
    assert mailbox.moved == []
    with Ledger(cfg.daemon.ledger) as ledger:
        applier = Applier(ledger, mailbox, MaildirSender(cfg.delivery), cfg)
        assert applier.finish_interrupted() == 1
        assert ledger.find("support", 7, "8").state == "done"
        assert ledger.pending_actions() == []
        assert applier.finish_interrupted() == 0
    assert mailbox.moved == [("8", "Triaged/prgateway-support")]
    assert len(delivered(tmp_path / "out", "support-team@example.com")) == 1


def test_interrupted_mail_under_an_old_uidvalidity_is_left_alone(config, tmp_path):
    cfg = _config(config, tmp_path, move=True)
    raw = _raw("9")
    mailbox = FakeMailbox()
    mailbox.crash_after.add("mark")
    with Ledger(cfg.daemon.ledger) as ledger:
        with pytest.raises(Crash):
            Applier(ledger, mailbox, MaildirSender(cfg.delivery), cfg).apply(_ref("9", raw), raw, parse_mail(raw),
                                                                             SKIPPED)
        mailbox.validity = 8
        assert Applier(ledger, mailbox, MaildirSender(cfg.delivery), cfg).finish_interrupted() == 0
    assert mailbox.moved == []


def test_delivery_failure_leaves_the_forward_pending_and_the_mail_unmarked(config, tmp_path):
    blocked = tmp_path / "out"
    blocked.write_text("a file where the delivery Maildirs should be")
    cfg = _config(config, tmp_path)
    raw = _raw("10")
    mail = parse_mail(raw)
    mailbox = FakeMailbox()
    with Ledger(cfg.daemon.ledger) as ledger:
        applier = Applier(ledger, mailbox, MaildirSender(cfg.delivery), cfg)
        with pytest.raises(DeliveryError):
            applier.apply(_ref("10", raw), raw, mail, technical(cfg, mail))
        record = ledger.find("support", 7, "10")
        assert record.state == "decided" and record.last_error.startswith("forward: ")
        assert record.attempts == 0  # delivery trouble is not the mail's fault
        assert [a.kind for a in ledger.pending_actions()] == ["forward", "draft", "mark"]
        assert mailbox.keywords == {} and mailbox.folders == {}

        blocked.unlink()  # the delivery is back
        assert applier.apply(_ref("10", raw), raw, mail).actions == ("forward", "draft", "mark")
        assert ledger.find("support", 7, "10").last_error is None
    assert mailbox.keywords["10"] == {"$Triaged", "$Topic_prgateway-support"}


def test_mailbox_failure_stops_before_marking(setup):
    cfg, ledger, mailbox, applier = setup
    raw = _raw("11")
    mail = parse_mail(raw)
    mailbox.fail["append"] = MailboxError("IMAP connection lost")
    with pytest.raises(MailboxError):
        applier.apply(_ref("11", raw), raw, mail, technical(cfg, mail))
    assert [a.kind for a in ledger.pending_actions()] == ["draft", "mark"]
    assert "11" not in mailbox.keywords
    assert applier.apply(_ref("11", raw), raw, mail).actions == ("draft", "mark")


def test_an_unexpected_error_is_recorded_and_raised_for_the_daemon_to_count(setup):
    cfg, ledger, mailbox, applier = setup
    raw = _raw("12")
    mailbox.fail["mark"] = RuntimeError("odd")
    with pytest.raises(RuntimeError):
        applier.apply(_ref("12", raw), raw, parse_mail(raw), SKIPPED)
    record = ledger.find("support", 7, "12")
    assert record.last_error == "mark: RuntimeError: odd"
    assert record.attempts == 0


def test_a_recorded_decision_wins_when_resuming(setup, tmp_path):
    cfg, ledger, mailbox, applier = setup
    raw = _raw("13")
    mail = parse_mail(raw)
    mailbox.fail["contains"] = MailboxError("gone")
    with pytest.raises(MailboxError):
        applier.apply(_ref("13", raw), raw, mail, technical(cfg, mail))
    other = replace(technical(cfg, mail), topic="billing", group="billing", group_address="accounting@example.com")
    applier.apply(_ref("13", raw), raw, mail, other)
    assert mailbox.keywords["13"] == {"$Triaged", "$Topic_prgateway-support"}
    assert delivered(tmp_path / "out", "accounting@example.com") == []


def test_similar_recent_reports_are_counted_into_the_forward(setup, tmp_path):
    cfg, ledger, mailbox, applier = setup
    for uid in ("20", "21"):
        raw = _raw(uid)
        mail = parse_mail(raw)
        applier.apply(_ref(uid, raw), raw, mail, technical(cfg, mail))
    first, second = (email.message_from_bytes(m, policy=policy.default).get_body(("plain",)).get_content()
                     for m in delivered(tmp_path / "out", "support-team@example.com"))
    texts = {"20" if "uid 20" in t else "21": t for t in (first, second)}
    assert "0 other technical problems" in texts["20"]
    assert "1 other technical problem on prgateway-support / prgateway in the last 30 days" in texts["21"]


def test_dry_run_changes_nothing(config, tmp_path, caplog):
    cfg = _config(config, tmp_path, move=True)
    raw = _raw("30")
    mail = parse_mail(raw)
    mailbox = FakeMailbox()
    with Ledger(cfg.daemon.ledger) as ledger:
        applier = Applier(ledger, mailbox, MaildirSender(cfg.delivery), cfg, dry_run=True)
        with caplog.at_level(logging.INFO, logger="triage.apply"):
            result = applier.apply(_ref("30", raw), raw, mail, legal_deletion(cfg))
            applier.quarantine(_ref("31", raw), "too big")
        assert result.state == "dry-run"
        assert result.actions == ("forward", "draft", "alert", "mark", "move")
        assert ledger.find("support", 7, "30") is None and ledger.find("support", 7, "31") is None
        assert ledger.pending_actions() == []
    assert mailbox.calls == []
    assert not (tmp_path / "out").exists()
    assert "dry-run: would forward to deletion@example.com" in caplog.text
    assert "dry-run: would quarantine" in caplog.text


def test_quarantine_moves_and_records_why(setup):
    cfg, ledger, mailbox, applier = setup
    raw = _raw("40")
    ledger.add_attempt("support", 7, "40", "cannot parse")
    applier.quarantine(_ref("40", raw), "3 attempts failed: cannot parse", raw)
    assert mailbox.moved == [("40", "Quarantine")]
    record = ledger.find("support", 7, "40")
    assert (record.state, record.last_error, record.attempts) == ("quarantined", "3 attempts failed: cannot parse", 1)
    assert [(a.kind, a.state) for a in ledger.actions(record.id)] == [("quarantine", "done")]
    assert applier.apply(_ref("40", raw), raw, parse_mail(raw), SKIPPED).state == "quarantined"


def test_renumbered_mail_is_only_marked_again(setup, tmp_path):
    cfg, ledger, mailbox, applier = setup
    raw = _raw("50")
    mail = parse_mail(raw)
    applier.apply(_ref("50", raw), raw, mail, technical(cfg, mail))
    new_ref = _ref("3", raw, uidvalidity=9)  # after a UIDVALIDITY change
    assert ledger.find("support", 9, "3") is None
    record = ledger.find_done("support", "<m50@kunde.example>", ledger.find("support", 7, "50").sha256)
    applier.renumbered(new_ref, record)
    assert mailbox.keywords["3"] == {"$Triaged", "$Topic_prgateway-support"}
    assert ledger.find("support", 9, "3").id == record.id
    assert len(delivered(tmp_path / "out", "support-team@example.com")) == 1
    assert len(mailbox.folders["Drafts"]) == 1


def test_every_log_line_names_inbox_uid_and_message_id(setup, caplog):
    cfg, ledger, mailbox, applier = setup
    with caplog.at_level(logging.DEBUG, logger="triage.apply"):
        raw = _raw("60")
        mail = parse_mail(raw)
        applier.apply(_ref("60", raw), raw, mail, technical(cfg, mail))
        mailbox.fail["mark"] = MailboxError("gone")
        raw = _raw("61")
        with pytest.raises(MailboxError):
            applier.apply(_ref("61", raw), raw, parse_mail(raw), SKIPPED)
        applier.quarantine(_ref("61", raw), "test")
    lines = [r.getMessage() for r in caplog.records if r.name == "triage.apply"]
    assert len(lines) >= 6
    for line in lines:
        assert "inbox=support uid=6" in line and "message_id=<m6" in line, line


def test_with_a_real_smtp_server_that_goes_down_and_comes_back(config, tmp_path, smtp_sink):
    delivery = Delivery(kind="smtp", host=smtp_sink.host, port=smtp_sink.port, security="none", timeout=5.0,
                        sender=SENDER)
    cfg = _config(config, tmp_path, delivery=delivery)
    mailbox = FakeMailbox()
    with Ledger(cfg.daemon.ledger) as ledger:
        applier = Applier(ledger, mailbox, SmtpSender(cfg.delivery), cfg)
        raw1 = _raw("70")
        mail1 = parse_mail(raw1)
        applier.apply(_ref("70", raw1), raw1, mail1, technical(cfg, mail1))
        assert [(m.mail_from, m.rcpt_tos) for m in smtp_sink.received] == [(SENDER, ["support-team@example.com"])]

        smtp_sink.stop()
        raw2 = _raw("71", subject="Abmahnung", body="Abmahnung erhalten, bitte sofort loeschen.")
        mail2 = parse_mail(raw2)
        with pytest.raises(DeliveryError):
            applier.apply(_ref("71", raw2), raw2, mail2, legal_deletion(cfg))
        assert [a.kind for a in ledger.pending_actions()] == ["forward", "draft", "alert", "mark"]
        assert "71" not in mailbox.keywords
        assert len(mailbox.folders["Drafts"]) == 1  # only the first mail's

        smtp_sink.start()
        result = applier.apply(_ref("71", raw2), raw2, mail2)
        assert result.actions == ("forward", "draft", "alert", "mark")
        assert ledger.pending_actions() == []
        applier.apply(_ref("71", raw2), raw2, mail2)  # a third call sends nothing more
    assert [m.rcpt_tos for m in smtp_sink.received] == [
        ["support-team@example.com"], ["deletion@example.com"], ["cleanup@example.com"]]
    forward = email.message_from_bytes(smtp_sink.received[1].content, policy=policy.default)
    assert forward["X-Triage-Loop"] == "yes"
    attached = list(forward.iter_parts())[1].get_content()
    assert attached["Message-ID"] == "<m71@kunde.example>"
    assert mailbox.keywords["71"] == {"$Triaged", "$Topic_deletion", "$Legal"}
