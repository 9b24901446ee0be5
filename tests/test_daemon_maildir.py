"""The whole daemon over two Maildir inboxes with Maildir delivery: no server needed.

The bundled sample mails (examples/sample-mails) go through `Daemon.run`
with the shipped model; forwards, drafts, alerts and marks are read back
from disk.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from daemon_helpers import (
    CLEANUP, EXPECTED, MALFORMED, attached, deliver, files, group_mail, keywords, maildir_config, parse, samples,
    summary, wait_for,
)
from triage.cli import main
from triage.daemon import Backoff, Daemon, heartbeat_path
from triage.errors import DeliveryError, MailboxError
from triage.health import check
from triage.ledger import Ledger
from triage.maildir import MaildirMailbox
from triage.smtp import MaildirSender


def inbox_dir(base: Path, name: str) -> Path:
    return base / "demo" / "inbox" / name


def fill(base: Path) -> None:
    for name in ("support", "sales"):
        for raw in samples(name):
            deliver(inbox_dir(base, name), raw)


def daemon(config, engine, **kwargs) -> Daemon:
    kwargs.setdefault("handle_signals", False)
    kwargs.setdefault("wait_slice", 0.2)
    kwargs.setdefault("backoff", (0.05, 0.2))
    return Daemon(config, engine, **kwargs)


def snapshot(base: Path) -> dict[str, bytes]:
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def test_backlog_forwarded_drafted_alerted_and_marked(tmp_path, engine):
    fill(tmp_path)
    config = maildir_config(tmp_path)
    d = daemon(config, engine)
    assert d.run(once=True) == 0

    delivered = group_mail(tmp_path / "demo" / "groups")
    forwards: dict[str, list[str]] = {}
    for address, raws in delivered.items():
        if address == CLEANUP:
            continue
        for raw in raws:
            message = parse(raw)
            assert message["X-Triage-Loop"] == "yes" and message["To"] == address
            original = attached(raw)
            forwards.setdefault(original["Message-ID"], []).append(address)
            assert "Triage summary" in summary(raw)
    expected_forwards = {mid: [group] for mid, (group, _, _) in EXPECTED.items() if group}
    assert forwards == expected_forwards, "every mail forwarded exactly once, to its owner group"

    # The original travels byte for byte.
    for name in ("support", "sales"):
        for raw in samples(name):
            mid = parse(raw)["Message-ID"]
            group = EXPECTED[mid][0]
            if group:
                assert sum(raw in fwd for fwd in delivered[group]) == 1

    # Exactly one clean-up alert, for the lawyer's letter, own portals first.
    alerts = delivered.get(CLEANUP, [])
    assert len(alerts) == 1
    assert attached(alerts[0])["Message-ID"] == "<sample-02@brenner-recht.de>"
    text = summary(alerts[0])
    own = text.index("https://www.pr-gateway.de/pressemitteilung/moeller-immobilien-rekordjahr-2023-55120")
    assert own < text.index("https://www.openpr.de/news/1204411/Moeller-Immobilien-Rekordjahr.html")

    # Drafts: one per mail that needs one, in the inbox's Drafts, flagged \Draft, threaded to the original.
    drafts = {}
    for name in ("support", "sales"):
        folder = inbox_dir(tmp_path, name) / ".Drafts"
        for path in files(folder):
            assert "\\Draft" in keywords(folder, path)
            message = parse(path.read_bytes())
            drafts.setdefault(message["In-Reply-To"], []).append(name)
            assert message["Subject"].startswith("Re: ")
    assert drafts == {mid: ["support"] for mid, (_, draft, _) in EXPECTED.items() if draft}

    # Originals: all marked; automated mail only filed as skipped; the legal warning flagged.
    for name in ("support", "sales"):
        folder = inbox_dir(tmp_path, name)
        for path in files(folder):
            mid = parse(path.read_bytes())["Message-ID"]
            words = keywords(folder, path)
            assert "$Triaged" in words
            assert "\\Seen" not in words
            group, _, alert = EXPECTED[mid]
            if group is None:
                assert any(w.startswith("$Skipped_") for w in words) and not any(w.startswith("$Topic_") for w in words)
            else:
                assert any(w.startswith("$Topic_") for w in words)
            assert ("$Legal" in words and "\\Flagged" in words) == alert
    stats = d.stats
    assert stats["support"].done == 7 and stats["support"].skipped == 1
    assert stats["sales"].done == 5 and stats["sales"].skipped == 1
    assert not (tmp_path / "demo" / "inbox" / "support" / ".Quarantine").exists()


def test_rerun_does_nothing_new(tmp_path, engine):
    fill(tmp_path)
    config = maildir_config(tmp_path)
    assert daemon(config, engine).run(once=True) == 0
    before = snapshot(tmp_path / "demo" / "groups"), snapshot(tmp_path / "demo" / "inbox")
    again = daemon(config, engine)
    assert again.run(once=True) == 0
    assert (snapshot(tmp_path / "demo" / "groups"), snapshot(tmp_path / "demo" / "inbox")) == before
    assert all(s.done == 0 and s.quarantined == 0 for s in again.stats.values())


def test_dry_run_changes_nothing(tmp_path, engine, caplog):
    fill(tmp_path)
    before = snapshot(tmp_path)
    config = maildir_config(tmp_path)
    with caplog.at_level(logging.INFO):
        assert daemon(config, engine, dry_run=True).run(once=True) == 0
    after = snapshot(tmp_path)
    assert after == before, "a dry run writes no forward, draft, mark, ledger or heartbeat"
    assert not config.daemon.ledger.exists()
    would = [r.getMessage() for r in caplog.records if "dry-run: would forward" in r.getMessage()]
    assert len(would) == sum(1 for group, _, _ in EXPECTED.values() if group)


def test_malformed_mail_in_the_middle_is_quarantined_and_the_rest_goes_on(tmp_path, engine, caplog):
    support = inbox_dir(tmp_path, "support")
    mails = samples("support")
    for raw in mails[:3]:
        deliver(support, raw)
    bad_key = deliver(support, MALFORMED)
    for raw in mails[3:]:
        deliver(support, raw)
    config = maildir_config(tmp_path, max_attempts=2)
    d = daemon(config, engine)
    with caplog.at_level(logging.WARNING):
        assert d.run(once=True) == 0
    assert d.stats["support"].done == len(mails)
    assert d.stats["support"].quarantined == 1
    quarantine = support / ".Quarantine"
    assert [p.name.partition(":")[0] for p in files(quarantine)] == [bad_key]
    assert files(quarantine)[0].read_bytes() == MALFORMED
    assert all("$Triaged" in keywords(support, p) for p in files(support))
    ledger = Ledger(config.daemon.ledger)
    try:
        record = ledger.find("support", 0, bad_key)
        assert record is not None and record.state == "quarantined" and record.attempts == 2
        assert "no mail headers" in (record.last_error or "")
    finally:
        ledger.close()
    assert any("quarantined" in r.getMessage() and f"uid={bad_key}" in r.getMessage() for r in caplog.records)


def test_oversized_mail_quarantined_without_reading_it_whole(tmp_path, engine):
    support = inbox_dir(tmp_path, "support")
    big = samples("support")[0].replace(b"Fehler beim Hochladen", b"Riesige Mail") + b"x" * 20_000 + b"\r\n"
    small = samples("support")[2]
    big_key = deliver(support, big)
    deliver(support, small)
    config = maildir_config(tmp_path, max_message_bytes=4096)
    reads: list[int] = []

    class Spy(MaildirMailbox):
        def fetch(self, ref, limit=None):
            raw = super().fetch(ref, limit)
            reads.append(len(raw))
            return raw

    d = daemon(config, engine, mailbox_factory=Spy)
    assert d.run(once=True) == 0
    assert max(reads) <= 4097, "no fetch ever returned the whole oversized mail"
    assert [p.name.partition(":")[0] for p in files(support / ".Quarantine")] == [big_key]
    assert d.stats["support"].done == 1 and d.stats["support"].quarantined == 1
    ledger = Ledger(config.daemon.ledger)
    try:
        record = ledger.find("support", 0, big_key)
        assert record.state == "quarantined" and "too large" in record.last_error
        assert record.message_id == "<sample-01@bauunternehmen-wendt.de>"
    finally:
        ledger.close()


class FlakySender:
    """Maildir delivery that fails (like an SMTP server that is down) while ``down`` is set."""

    def __init__(self, real: MaildirSender) -> None:
        self.real = real
        self.down = True
        self.refused = 0

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> str:
        if self.down:
            self.refused += 1
            raise DeliveryError("SMTP 127.0.0.1:1: connection refused")
        return self.real.send(raw, sender, recipients)


def test_delivery_down_leaves_mail_pending_then_retries(tmp_path, engine):
    for raw in samples("support")[:4]:
        deliver(inbox_dir(tmp_path, "support"), raw)
    config = maildir_config(tmp_path)
    flaky = FlakySender(MaildirSender(config.delivery))
    first = daemon(config, engine, sender=flaky)
    assert first.run(once=True) == 1, "--once reports that mail was left pending"
    assert first.stats["support"].deferred >= 1
    # After 3 refusals in a row the pass ends early: a dead server costs no time per mail.
    assert flaky.refused == 3
    assert group_mail(tmp_path / "demo" / "groups") == {}
    assert not any("$Triaged" in keywords(inbox_dir(tmp_path, "support"), p)
                   for p in files(inbox_dir(tmp_path, "support")))

    # The watching daemon retries with backoff and gets everything out once the server is back.
    flaky.refused = 0
    d = daemon(config, engine, sender=flaky)
    thread = threading.Thread(target=d.run)
    thread.start()
    try:
        wait_for(lambda: flaky.refused >= 3, 5)
        flaky.down = False
        groups = tmp_path / "demo" / "groups"
        wait_for(lambda: sum(len(v) for k, v in group_mail(groups).items() if k != CLEANUP) == 4, 10)
    finally:
        d.stop()
        thread.join(10)
    assert not thread.is_alive()
    assert all("$Triaged" in keywords(inbox_dir(tmp_path, "support"), p)
               for p in files(inbox_dir(tmp_path, "support")))
    assert len(group_mail(tmp_path / "demo" / "groups")[CLEANUP]) == 1


def test_new_mail_is_noticed_while_watching_and_stop_is_prompt(tmp_path, engine):
    config = maildir_config(tmp_path)
    d = daemon(config, engine)
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(d.run()))
    thread.start()
    try:
        wait_for(lambda: all(s.state == "idle" for s in d.stats.values()), 10)
        deliver(inbox_dir(tmp_path, "sales"), samples("sales")[0])
        started = time.monotonic()
        wait_for(lambda: group_mail(tmp_path / "demo" / "groups").get("sales@example.com"), 5, 0.01)
        assert time.monotonic() - started < 2.0
        beat = heartbeat_path(config)
        wait_for(beat.exists, 6)
        health = check(beat)
        assert health.ok, health.reason
    finally:
        stopped = time.monotonic()
        d.stop()
        thread.join(10)
    assert time.monotonic() - stopped < 2.0, "an idle daemon stops within a wait slice"
    assert result == [0]


def test_sigterm_is_a_warm_shutdown(tmp_path, engine):
    fill(tmp_path)
    config = maildir_config(tmp_path)
    d = daemon(config, engine, handle_signals=True)
    previous = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        assert d.run() == 0  # returns (exit status 0) instead of being killed
    finally:
        timer.cancel()
    assert signal.getsignal(signal.SIGTERM) is previous, "the handler is restored"
    assert all(s.state == "stopped" for s in d.stats.values())
    assert d.stats["support"].done == 7 and d.stats["sales"].done == 5


def test_progress_lines_and_every_line_names_its_inbox(tmp_path, engine, caplog):
    fill(tmp_path)
    config = maildir_config(tmp_path, progress_every=3)
    with caplog.at_level(logging.INFO):
        assert daemon(config, engine).run(once=True) == 0
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("triage.")]
    progress = [line for line in lines if "progress" in line]
    assert any("inbox=support: progress 3/7 mails" in line and "mails/s" in line for line in progress)
    assert any("inbox=support: progress 6/7" in line for line in progress)
    assert any("inbox=sales: progress 3/5" in line for line in progress)
    per_inbox = [line for line in lines if not line.startswith("daemon:")]
    assert per_inbox and all("inbox=" in line for line in per_inbox), \
        [line for line in per_inbox if "inbox=" not in line]
    per_mail = [r.getMessage() for r in caplog.records if r.name == "triage.apply"]
    assert per_mail and all("uid=" in line and "message_id=" in line for line in per_mail)


def test_reconnects_with_backoff_after_mailbox_errors(tmp_path, engine, caplog):
    deliver(inbox_dir(tmp_path, "sales"), samples("sales")[0])
    config = maildir_config(tmp_path)
    connects = {"sales": 0}

    class Unreachable(MaildirMailbox):
        def connect(self):
            if self.name == "sales":
                connects["sales"] += 1
                if connects["sales"] <= 2:
                    raise MailboxError("inbox sales: connect failed: connection refused")
            super().connect()

    d = daemon(config, engine, mailbox_factory=Unreachable)
    thread = threading.Thread(target=d.run)
    with caplog.at_level(logging.WARNING):
        thread.start()
        try:
            wait_for(lambda: group_mail(tmp_path / "demo" / "groups").get("sales@example.com"), 10)
        finally:
            d.stop()
            thread.join(10)
    assert connects["sales"] == 3
    assert d.stats["sales"].connection_errors == 2
    retries = [r.getMessage() for r in caplog.records if "reconnecting in" in r.getMessage()]
    assert len(retries) == 2 and all(r.startswith("inbox=sales:") for r in retries)


def test_once_gives_up_on_an_unreachable_inbox(tmp_path, engine):
    config = maildir_config(tmp_path)

    class Down(MaildirMailbox):
        def connect(self):
            raise MailboxError(f"inbox {self.name}: connection refused")

    d = daemon(config, engine, mailbox_factory=Down)
    assert d.run(once=True) == 1
    assert all(s.state == "given-up" for s in d.stats.values())


def test_backoff_doubles_to_the_cap_with_jitter():
    values = iter([0.0, 1.0] + [0.5] * 9)
    backoff = Backoff(1.0, 60.0, 0.2, rng=lambda: next(values))
    delays = [backoff.next() for _ in range(10)]
    assert delays[0] == pytest.approx(0.8) and delays[1] == pytest.approx(2.4)
    assert delays[2:8] == pytest.approx([4.0, 8.0, 16.0, 32.0, 60.0, 60.0])
    assert max(delays) <= 60.0
    backoff.reset()
    assert backoff.next() == pytest.approx(1.0)


def test_cli_run_dry_run_then_once(tmp_path, monkeypatch):
    config = tmp_path / "triage.toml"
    config.write_text((Path(__file__).resolve().parent.parent / "examples" / "maildir.toml").read_text())
    fill(tmp_path)
    before = snapshot(tmp_path)
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", root.level)  # `run` raises the level to info: restore it afterwards
    assert main(["run", "--config", str(config), "--once", "--dry-run"]) == 0
    assert snapshot(tmp_path) == before
    assert main(["run", "--config", str(config), "--once"]) == 0
    assert root.level == logging.INFO
    delivered = group_mail(tmp_path / "demo" / "groups")
    assert sum(len(v) for v in delivered.values()) == sum(1 for g, _, _ in EXPECTED.values() if g) + 1
    assert main(["run", "--config", str(tmp_path / "missing.toml"), "--once"]) == 2


def test_a_mail_renumbered_while_half_done_resumes_and_is_never_forwarded_twice(tmp_path, engine):
    """Forward sent, then the server went away before the draft was stored; the mail turns up under a
    new UID (a rebuilt mailbox): its pending actions are resumed, it is not forwarded again."""
    inbox = inbox_dir(tmp_path, "support")
    raw = samples("support")[0]  # the upload error: forward, then a draft
    old_key = deliver(inbox, raw)
    config = maildir_config(tmp_path)

    class AppendFails(MaildirMailbox):
        def append(self, folder, raw, flags):
            raise MailboxError("connection lost before the draft was stored (simulated)")

    first = daemon(config, engine, mailbox_factory=lambda box: AppendFails(box) if box.name == "support"
                   else MaildirMailbox(box))
    first.run(once=True)
    assert sum(len(v) for v in group_mail(tmp_path / "demo" / "groups").values()) == 1
    ledger = Ledger(config.daemon.ledger)
    try:
        assert [a.kind for a in ledger.pending_actions("support")] == ["draft", "mark"]
    finally:
        ledger.close()

    # The mailbox is rebuilt: the same message under a new key (its UID in Maildir).
    (old_path,) = [p for p in inbox.rglob("*") if p.is_file() and p.name.startswith(old_key)]
    new_key = deliver(inbox, old_path.read_bytes())
    old_path.unlink()

    assert daemon(config, engine).run(once=True) == 0
    delivered = group_mail(tmp_path / "demo" / "groups")
    assert sum(len(v) for v in delivered.values()) == 1, "no second forward"
    assert len(files(inbox / ".Drafts")) == 1, "the pending draft was stored"
    (new_path,) = [p for p in inbox.rglob("*") if p.is_file() and p.name.startswith(new_key)]
    assert "$Triaged" in keywords(inbox, new_path)
    ledger = Ledger(config.daemon.ledger)
    try:
        assert ledger.pending_actions() == []
        assert ledger.find("support", 0, new_key) is not None
    finally:
        ledger.close()


def test_stop_ends_a_long_wait_at_once(tmp_path, engine):
    """With the default wait (minutes), stop() still ends an idle daemon within a second."""
    fill(tmp_path)
    config = maildir_config(tmp_path)
    d = Daemon(config, engine, handle_signals=False)  # default wait slice, poll_interval of the demo config
    runner = threading.Thread(target=d.run)
    runner.start()
    try:
        wait_for(lambda: all(s.state == "idle" for s in d.stats.values()), 30)
        started = time.monotonic()
        d.stop()
        runner.join(5)
        assert not runner.is_alive()
        assert time.monotonic() - started < 1.0
    finally:
        d.stop()
        runner.join(5)
