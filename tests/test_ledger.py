"""The ledger: mails and actions survive reopening, lookups for resuming and renumbering, similar-report counts."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

from triage.decision import Decision
from triage.errors import LedgerError
from triage.ledger import SCHEMA_VERSION, Ledger, decision_from_json

TECHNICAL = Decision(skipped=None, language="de", topic="prgateway-support", product="prgateway", confidence=0.81,
                     group="prgateway-support", group_address="support-team@example.com",
                     guesses=(("prgateway-support", 0.81), ("billing", 0.1)), technical_problem=True,
                     urls=("https://www.example.com/a",), missing_details=("os", "browser"),
                     draft="Guten Tag,\n…\n", draft_kind="technical", team_address="support@example.com")
BILLING = Decision(skipped=None, language="en", topic="billing", product="prgateway", confidence=0.9, group="billing",
                   group_address="accounting@example.com")
SKIPPED = Decision(skipped="auto-reply", language="en", topic="unsorted", product="unknown", confidence=0.0, group=None)


@pytest.fixture
def ledger(tmp_path):
    with Ledger(tmp_path / "state" / "ledger.sqlite3") as opened:
        yield opened


def test_new_ledger_has_schema_version_and_wal_mode(tmp_path):
    path = tmp_path / "state" / "ledger.sqlite3"  # the folder does not exist yet
    with Ledger(path) as ledger:
        assert ledger.schema_version == SCHEMA_VERSION == 1
    probe = sqlite3.connect(path)
    try:
        assert probe.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert probe.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {row[0] for row in probe.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        probe.close()
    assert {"mails", "actions"} <= tables


def test_a_ledger_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    Ledger(path).close()
    probe = sqlite3.connect(path)
    probe.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    probe.commit()
    probe.close()
    with pytest.raises(LedgerError, match="newer triage"):
        Ledger(path)


def test_a_file_that_is_no_database_is_a_ledger_error(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match=str(path)):
        Ledger(path)


def test_closed_ledger_says_so(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite3")
    ledger.close()
    ledger.close()  # twice is fine
    with pytest.raises(LedgerError, match="closed"):
        ledger.find("support", 1, "1")


def test_record_and_find_by_inbox_uidvalidity_uid(ledger):
    assert ledger.find("support", 7, "42") is None
    first = ledger.record_mail("support", 7, "42", "<a@example.org>", "ab" * 32)
    again = ledger.record_mail("support", 7, "42")  # idempotent; keeps what it knew
    assert again.id == first.id
    found = ledger.find("support", 7, "42")
    assert found is not None
    assert (found.message_id, found.sha256, found.state, found.attempts) == ("<a@example.org>", "ab" * 32, "new", 0)
    assert ledger.find("support", 8, "42") is None
    assert ledger.find("sales", 7, "42") is None


def test_decision_and_actions_are_recorded_in_order_and_persist(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    with Ledger(path) as ledger:
        mail = ledger.record_mail("support", 7, "42", "<a@example.org>", "00" * 32)
        ledger.record_decision(mail.id, TECHNICAL, ["forward", "draft", "mark"], similar_count=2)
        ledger.set_action(mail.id, "forward", "done", "to support-team@example.com")
    with Ledger(path) as ledger:  # a restart
        record = ledger.find("support", 7, "42")
        assert record.state == "decided"
        assert record.similar_count == 2
        assert decision_from_json(record.decision) == TECHNICAL
        actions = ledger.actions(record.id)
        assert [(a.kind, a.state) for a in actions] == [("forward", "done"), ("draft", "pending"), ("mark", "pending")]
        assert actions[0].detail == "to support-team@example.com"
        assert [(a.kind, a.uid, a.message_id) for a in ledger.pending_actions()] == [
            ("draft", "42", "<a@example.org>"), ("mark", "42", "<a@example.org>")]
        # Recording the decision again never undoes work done.
        ledger.record_decision(record.id, TECHNICAL, ["forward", "draft", "mark"])
        assert [a.state for a in ledger.actions(record.id)] == ["done", "pending", "pending"]


def test_pending_actions_by_inbox(ledger):
    support = ledger.record_mail("support", 1, "1")
    sales = ledger.record_mail("sales", 1, "1")
    ledger.record_decision(support.id, BILLING, ["forward", "mark"])
    ledger.record_decision(sales.id, BILLING, ["forward", "mark"])
    ledger.set_action(sales.id, "forward", "done")
    assert [(a.inbox, a.kind) for a in ledger.pending_actions("sales")] == [("sales", "mark")]
    assert len(ledger.pending_actions()) == 3
    with pytest.raises(ValueError):
        ledger.set_action(sales.id, "explode", "done")
    with pytest.raises(ValueError):
        ledger.record_decision(sales.id, BILLING, ["explode"])


def test_find_done_only_finds_fully_done_mail(ledger):
    mail = ledger.record_mail("support", 7, "42", "<a@example.org>", "cd" * 32)
    ledger.record_decision(mail.id, BILLING, ["forward", "mark"])
    assert ledger.find_done("support", "<a@example.org>", "cd" * 32) is None
    ledger.set_action(mail.id, "forward", "done")
    ledger.set_action(mail.id, "mark", "done")
    assert ledger.find_done("support", "<a@example.org>", "cd" * 32) is None  # state is still decided
    ledger.set_state(mail.id, "done")
    found = ledger.find_done("support", "<a@example.org>", "cd" * 32)
    assert found is not None and found.id == mail.id
    assert ledger.find_done("support", "<a@example.org>", "ef" * 32) is None  # other content
    assert ledger.find_done("sales", "<a@example.org>", "cd" * 32) is None


def test_renumber_moves_the_mail_to_its_new_uid(ledger):
    mail = ledger.record_mail("support", 7, "42", "<a@example.org>", "cd" * 32)
    ledger.record_decision(mail.id, BILLING, ["mark"])
    ledger.renumber(mail.id, 9, "3")
    assert ledger.find("support", 7, "42") is None
    moved = ledger.find("support", 9, "3")
    assert moved is not None and moved.id == mail.id and moved.decision is not None


def test_renumber_replaces_a_row_without_decision_but_not_one_with(ledger):
    mail = ledger.record_mail("support", 7, "42")
    ledger.record_decision(mail.id, BILLING, ["mark"])
    ledger.add_attempt("support", 9, "3", "cannot parse")  # the new uid was seen once, undecided
    ledger.renumber(mail.id, 9, "3")
    assert ledger.find("support", 9, "3").id == mail.id
    other = ledger.record_mail("support", 9, "4")
    ledger.record_decision(other.id, BILLING, ["mark"])
    with pytest.raises(LedgerError, match="already recorded"):
        ledger.renumber(mail.id, 9, "4")


def test_attempts_are_counted_and_kept(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    with Ledger(path) as ledger:
        assert ledger.attempts("support", 7, "42") == 0
        assert ledger.add_attempt("support", 7, "42", "cannot parse: boom") == 1
        assert ledger.add_attempt("support", 7, "42", "cannot parse: bang", message_id="<x@y>") == 2
    with Ledger(path) as ledger:
        record = ledger.find("support", 7, "42")
        assert (record.attempts, record.last_error, record.message_id) == (2, "cannot parse: bang", "<x@y>")
        assert ledger.attempts("support", 7, "42") == 2
        ledger.set_state(record.id, "quarantined", error="3 attempts")
        assert ledger.find("support", 7, "42").state == "quarantined"
        assert ledger.find("support", 7, "42").last_error == "3 attempts"


def test_count_similar_recent_technical_reports(ledger):
    start = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)

    def record(uid: str, decision: Decision, days: float) -> int:
        with freeze_time(start + timedelta(days=days)):
            mail = ledger.record_mail("support", 1, uid)
            ledger.record_decision(mail.id, decision, ["mark"])
        return mail.id

    record("1", TECHNICAL, 0)           # 40 days before "now": too old
    second = record("2", TECHNICAL, 25)
    record("3", TECHNICAL, 35)
    record("4", BILLING, 36)            # not technical, other topic
    other_product = Decision(**{**TECHNICAL.__dict__, "product": "blog2social", "topic": "blog2social"})
    record("5", other_product, 37)
    not_technical = Decision(**{**TECHNICAL.__dict__, "technical_problem": False})
    record("6", not_technical, 38)
    record("7", SKIPPED, 39)
    with freeze_time(start + timedelta(days=39)):  # the same matter reported to the sales inbox counts too
        sales = ledger.record_mail("sales", 1, "1")
        ledger.record_decision(sales.id, TECHNICAL, ["mark"])
    now = (start + timedelta(days=40)).timestamp()
    assert ledger.count_similar("prgateway-support", "prgateway", 30, now=now) == 3
    assert ledger.count_similar("prgateway-support", "prgateway", 30, now=now, exclude_mail_id=second) == 2
    assert ledger.count_similar("prgateway-support", "prgateway", 50, now=now) == 4
    assert ledger.count_similar("blog2social", "blog2social", 30, now=now) == 1
    assert ledger.count_similar("billing", "prgateway", 30, now=now) == 0
    with freeze_time(start + timedelta(days=40)):
        assert ledger.count_similar("prgateway-support", "prgateway", 30) == 3


def test_decision_round_trips_through_json(ledger):
    mail = ledger.record_mail("support", 1, "1")
    for decision in (TECHNICAL, BILLING, SKIPPED):
        ledger.record_decision(mail.id, decision, ["mark"])
        assert decision_from_json(ledger.get(mail.id).decision) == decision


def test_threads_share_one_ledger(ledger):
    errors: list[BaseException] = []

    def work(inbox: str) -> None:
        try:
            for uid in range(15):
                mail = ledger.record_mail(inbox, 1, str(uid))
                ledger.record_decision(mail.id, BILLING, ["forward", "mark"])
                ledger.set_action(mail.id, "forward", "done")
                ledger.add_attempt(inbox, 1, str(uid), "x")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"inbox{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(ledger.pending_actions()) == 4 * 15
    assert all(ledger.attempts(f"inbox{i}", 1, "14") == 1 for i in range(4))
