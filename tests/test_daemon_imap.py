"""The whole daemon against a real Dovecot (IMAPS and STARTTLS inboxes) and a real SMTP sink.

Mail arrives by LMTP, as from the internet; forwards and alerts are read from
the sink, drafts and marks from the server.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from daemon_helpers import (
    CLEANUP, EXPECTED, attached, corpus_batch, imap_config_text, message_id, parse, samples, summary, wait_for,
)
from dovecot import Dovecot, DovecotUser, dovecot  # noqa: F401  (pytest fixture)
from smtp_sink import SmtpSink
from triage.config import Config, load_config
from triage.daemon import Daemon

pytestmark = pytest.mark.dovecot


@dataclass
class Setup:
    dovecot: Dovecot
    users: dict[str, DovecotUser]
    sink: SmtpSink
    config: Config
    path: Path


@pytest.fixture
def setup(dovecot, tmp_path):  # noqa: F811  (the dovecot fixture)
    dovecot.ensure_running()
    users = {"support": dovecot.add_user(), "sales": dovecot.add_user()}
    sink = SmtpSink()
    sink.start()
    path = tmp_path / "triage.toml"
    path.write_text(imap_config_text(dovecot, users, sink.port, tmp_path / "state"))
    try:
        yield Setup(dovecot, users, sink, load_config(path), path)
    finally:
        sink.stop()


def make_daemon(config: Config, engine, **kwargs) -> Daemon:
    kwargs.setdefault("handle_signals", False)
    kwargs.setdefault("wait_slice", 0.5)
    kwargs.setdefault("backoff", (0.1, 1.0))
    return Daemon(config, engine, **kwargs)


def forwards_by_original(sink: SmtpSink) -> dict[str, list[str]]:
    """Original Message-ID → the recipients it was forwarded to (alerts left out)."""
    found: dict[str, list[str]] = {}
    for item in sink.received:
        if item.rcpt_tos == [CLEANUP]:
            continue
        found.setdefault(str(attached(item.content)["Message-ID"]), []).extend(item.rcpt_tos)
    return found


def test_both_inboxes_every_topic_forwarded_once_with_drafts_alerts_and_marks(setup, engine):
    s = setup
    batch = corpus_batch(engine, per_topic=2)
    assert {d.topic for _, d in batch if not d.skipped} >= {
        "influma", "blog2social", "prgateway-sales", "prgateway-support", "billing", "press-release", "deletion"}
    expected: dict[str, tuple[str | None, bool, bool, str]] = {}
    for i, (raw, decision) in enumerate(batch):
        inbox = ("support", "sales")[i % 2]
        s.dovecot.deliver(s.users[inbox], raw)
        expected[message_id(raw)] = (decision.group_address if not decision.skipped else None,
                                     decision.draft is not None, decision.legal_warning, inbox)
    for inbox in ("support", "sales"):
        for raw in samples(inbox):
            s.dovecot.deliver(s.users[inbox], raw)
            group, draft, alert = EXPECTED[message_id(raw)]
            expected[message_id(raw)] = (group, draft, alert, inbox)

    d = make_daemon(s.config, engine)
    assert d.run(once=True) == 0

    # Forwards: exactly one per mail that is not automated, to its group, summary on top, original attached.
    stored = {inbox: {message_id(m.raw): m for m in s.dovecot.messages(s.users[inbox])} for inbox in s.users}
    assert forwards_by_original(s.sink) == {mid: [group] for mid, (group, _, _, _) in expected.items() if group}
    for item in s.sink.received:
        forward = parse(item.content)
        assert forward["X-Triage-Loop"] == "yes" and item.mail_from == "triage@example.com"
        original = attached(item.content)
        inbox = expected[str(original["Message-ID"])][3]
        assert stored[inbox][str(original["Message-ID"])].raw in item.content, "the original, byte for byte"
        if item.rcpt_tos != [CLEANUP]:
            assert "Triage summary" in summary(item.content)

    # Alerts: exactly one per legal warning.
    alerts = [attached(item.content)["Message-ID"] for item in s.sink.received if item.rcpt_tos == [CLEANUP]]
    assert sorted(alerts) == sorted(mid for mid, (_, _, alert, _) in expected.items() if alert)
    assert "<sample-02@brenner-recht.de>" in alerts

    # Drafts: one per mail that needs one, in its own inbox's Drafts, \Draft, threaded to the original.
    for inbox, user in s.users.items():
        drafts = s.dovecot.messages(user, "Drafts") if "Drafts" in s.dovecot.folders(user) else []
        replies = sorted(str(parse(m.raw)["In-Reply-To"]) for m in drafts)
        assert replies == sorted(mid for mid, (_, draft, _, box) in expected.items() if draft and box == inbox)
        for m in drafts:
            assert "\\Draft" in m.flags
            draft = parse(m.raw)
            assert str(draft["Subject"]).startswith("Re: ")
            assert str(draft["In-Reply-To"]) in str(draft["References"])

    # Originals: marked, never \Seen; automated mail filed without topic; legal warnings flagged.
    for inbox, messages in stored.items():
        for mid, m in messages.items():
            group, _, alert, _ = expected[mid]
            assert "$Triaged" in m.flags and "\\Seen" not in m.flags
            topics = [f for f in m.flags if f.startswith("$Topic_")]
            skipped = [f for f in m.flags if f.startswith("$Skipped_")]
            assert (len(topics), len(skipped)) == ((1, 0) if group else (0, 1)), (mid, m.flags)
            assert ("$Legal" in m.flags and "\\Flagged" in m.flags) == alert

    # Our own forward coming back into an inbox is filed as a loop: nothing sent, nothing drafted.
    count = len(s.sink.received)
    own = next(item.content for item in s.sink.received if item.rcpt_tos != [CLEANUP])
    s.dovecot.deliver(s.users["support"], own)
    again = make_daemon(s.config, engine)
    assert again.run(once=True) == 0
    assert len(s.sink.received) == count
    looped = [m for m in s.dovecot.messages(s.users["support"]) if message_id(m.raw) == message_id(own)]
    assert len(looped) == 1 and {"$Triaged", "$Skipped_loop"} <= looped[0].flags
    assert again.stats["support"].skipped == 1 and again.stats["sales"].done == 0


def test_idle_delivery_is_noticed_within_about_a_second(setup, engine):
    s = setup
    d = make_daemon(s.config, engine, wait_slice=2.0)
    thread = threading.Thread(target=d.run)
    thread.start()
    latencies = []
    try:
        wait_for(lambda: all(st.state == "idle" for st in d.stats.values()), 15)
        for i, raw in enumerate(samples("sales")[:4]):
            user = s.users["sales" if i % 2 else "support"]
            before = len(s.sink.received)
            started = time.monotonic()
            s.dovecot.deliver(user, raw)
            wait_for(lambda: len(s.sink.received) > before, 5, 0.005)
            latencies.append(time.monotonic() - started)
            time.sleep(0.3)
    finally:
        d.stop()
        thread.join(10)
    assert not thread.is_alive()
    assert max(latencies) < 2.0, latencies  # Dovecot itself waits 0.5 s before it announces new mail
    assert statistics.median(latencies) < 1.0, latencies
