"""The daemon under faults: crashes, a server going away, dropped connections, renumbered mailboxes,
SMTP down, bad mail. Afterwards every mail is forwarded once, drafted once where due, and none is
left behind.

Real Dovecot (LMTP in, IMAP for the daemon) and a real SMTP sink throughout;
the crash test runs ``python -m triage run`` as a subprocess and SIGKILLs it.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from daemon_helpers import (
    CLEANUP, EXPECTED, MALFORMED, ROOT, attached, corpus_batch, imap_config_text, message_id, parse, samples, wait_for,
)
from dovecot import Dovecot, DovecotUser, dovecot  # noqa: F401  (pytest fixture)
from smtp_sink import SmtpSink
from triage.config import Config, load_config
from triage.daemon import Daemon
from triage.ledger import Ledger

pytestmark = pytest.mark.dovecot


@dataclass
class Setup:
    dovecot: Dovecot
    users: dict[str, DovecotUser]
    sink: SmtpSink
    config: Config
    path: Path
    expected: dict[str, tuple[str | None, bool, bool, str]]  # Message-ID -> (group, draft?, alert?, inbox)


def make_setup(dovecot: Dovecot, tmp_path: Path, **daemon) -> Setup:
    dovecot.ensure_running()
    users = {"support": dovecot.add_user(), "sales": dovecot.add_user()}
    sink = SmtpSink()
    sink.start()
    path = tmp_path / "triage.toml"
    path.write_text(imap_config_text(dovecot, users, sink.port, tmp_path / "state", **daemon))
    return Setup(dovecot, users, sink, load_config(path), path, {})


@pytest.fixture
def setup(dovecot, tmp_path):  # noqa: F811
    s = make_setup(dovecot, tmp_path)
    try:
        yield s
    finally:
        s.sink.stop()


def fill(s: Setup, engine, per_topic: int, seed: int = 0) -> None:
    """Deliver a backlog of every topic (plus the bundled samples) into both inboxes; remember what is due."""
    for i, (raw, decision) in enumerate(corpus_batch(engine, per_topic=per_topic, seed=seed)):
        inbox = ("support", "sales")[i % 2]
        s.dovecot.deliver(s.users[inbox], raw)
        s.expected[message_id(raw)] = (None if decision.skipped else decision.group_address,
                                       decision.draft is not None, decision.legal_warning, inbox)
    for inbox in ("support", "sales"):
        for raw in samples(inbox):
            s.dovecot.deliver(s.users[inbox], raw)
            s.expected[message_id(raw)] = (*EXPECTED[message_id(raw)], inbox)


def make_daemon(s: Setup, engine, **kwargs) -> Daemon:
    kwargs.setdefault("handle_signals", False)
    kwargs.setdefault("wait_slice", 0.5)
    kwargs.setdefault("backoff", (0.1, 1.0))
    return Daemon(s.config, engine, **kwargs)


def start(d: Daemon) -> threading.Thread:
    thread = threading.Thread(target=d.run, daemon=True)
    thread.start()
    return thread


def finish(d: Daemon, thread: threading.Thread, within: float = 10.0) -> None:
    d.stop()
    thread.join(within)
    assert not thread.is_alive(), "the daemon did not stop"


def sent(s: Setup) -> collections.Counter:
    """(kind, original Message-ID, recipient, our Message-ID) → how often the sink got it."""
    counts: collections.Counter = collections.Counter()
    for item in s.sink.received:
        kind = "alert" if item.rcpt_tos == [CLEANUP] else "forward"
        for rcpt in item.rcpt_tos:
            counts[(kind, str(attached(item.content)["Message-ID"]), rcpt, str(parse(item.content)["Message-ID"]))] += 1
    return counts


def forwards_due(s: Setup) -> int:
    return sum(1 for group, _, _, _ in s.expected.values() if group)


def assert_all_done(s: Setup, duplicates_allowed: int = 0) -> None:
    """Every mail forwarded (and alerted) once to the right place, drafted once where due, marked; ledger clean.

    ``duplicates_allowed``: a SIGKILL right between the SMTP server's OK and the ledger's commit
    may send one forward or alert twice (with the same Message-ID); each kill can cause at most one.
    """
    counts = sent(s)
    forwards = {(mid, rcpt) for kind, mid, rcpt, _ in counts if kind == "forward"}
    assert forwards == {(mid, group) for mid, (group, _, _, _) in s.expected.items() if group}
    alerts = {mid for kind, mid, _, _ in counts if kind == "alert"}
    assert alerts == {mid for mid, (_, _, alert, _) in s.expected.items() if alert}
    per_action = collections.Counter((kind, mid) for kind, mid, _, _ in counts)
    assert all(len([k for k in counts if (k[0], k[1]) == key]) == 1 for key in per_action), \
        "a repeated forward always carries the same deterministic Message-ID"
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= duplicates_allowed, f"{duplicates} duplicate sends: {[k for k, n in counts.items() if n > 1]}"

    for inbox, user in s.users.items():
        messages = {message_id(m.raw): m for m in s.dovecot.messages(user)}
        due = {mid for mid, (_, _, _, box) in s.expected.items() if box == inbox}
        assert due <= set(messages), "no mail lost"
        for mid in due:
            assert "$Triaged" in messages[mid].flags, f"{inbox} {mid} left behind: {messages[mid].flags}"
        drafts = s.dovecot.messages(user, "Drafts") if "Drafts" in s.dovecot.folders(user) else []
        replies = collections.Counter(str(parse(m.raw)["In-Reply-To"]) for m in drafts)
        wanted = {mid for mid, (_, draft, _, box) in s.expected.items() if draft and box == inbox}
        assert replies == collections.Counter({mid: 1 for mid in wanted}), "exactly one draft per mail that needs one"

    ledger = Ledger(s.config.daemon.ledger)
    try:
        assert ledger.pending_actions() == []
        for inbox in s.users:
            assert ledger.unfinished(inbox) == []
    finally:
        ledger.close()


# ---- crashes ---------------------------------------------------------------------------------------------

def daemon_process(s: Setup, *args: str, config: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(s.path.with_suffix(".log"), "ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "triage", "run", "--config", str(config or s.path), *args],
                                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)


def test_sigkill_at_random_points_then_restart_forwards_everything_exactly_once(setup, engine):
    s = setup
    fill(s, engine, per_topic=5, seed=1)
    rng = random.Random(7)
    kills = 0
    for round_ in range(4):
        before = len(s.sink.received)
        process = daemon_process(s)
        try:
            target = before + rng.randint(2, 6)
            wait_for(lambda: len(s.sink.received) >= target or process.poll() is not None, 60, 0.01)
            time.sleep(rng.uniform(0.0, 0.15))  # somewhere inside the next mail's actions
        finally:
            process.kill()
            process.wait(10)
        kills += 1
        assert process.returncode == -signal.SIGKILL, f"round {round_}: the daemon died by itself"
    assert len(s.sink.received) < forwards_due(s), "the kills came while the backlog was still being worked off"
    final = daemon_process(s, "--once")
    try:
        assert final.wait(120) == 0, s.path.with_suffix(".log").read_text()[-3000:]
    finally:
        final.kill()
    assert_all_done(s, duplicates_allowed=kills)


def test_sigterm_finishes_the_mail_in_hand_and_exits_0_a_second_signal_at_once(setup, engine):
    s = setup
    fill(s, engine, per_topic=3)
    process = daemon_process(s)
    try:
        wait_for(lambda: len(s.sink.received) >= 3, 60, 0.01)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
    log = s.path.with_suffix(".log").read_text()
    assert "finishing the mail in hand" in log
    ledger = Ledger(s.config.daemon.ledger)
    try:
        assert all(ledger.unfinished(inbox) == [] for inbox in s.users), "no mail left half-done"
        assert ledger.pending_actions() == []
    finally:
        ledger.close()
    assert len(s.sink.received) < forwards_due(s)

    # A second signal ends at once, even while the mail in hand is stuck: an SMTP server that never answers.
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(16)
        stuck = s.path.with_name("stuck.toml")
        stuck.write_text(s.path.read_text().replace(f"port = {s.sink.port}\n", f"port = {blackhole.getsockname()[1]}\n"))
        log_path = s.path.with_suffix(".log")
        offset = len(log_path.read_bytes())
        second = daemon_process(s, config=stuck)
        try:
            wait_for(lambda: b"actions forward" in log_path.read_bytes()[offset:], 60, 0.01)
            second.send_signal(signal.SIGTERM)
            wait_for(lambda: b"finishing the mail in hand" in log_path.read_bytes()[offset:], 10, 0.01)
            assert second.poll() is None, "the first signal waits for the mail in hand"
            started = time.monotonic()
            second.send_signal(signal.SIGTERM)
            assert second.wait(10) == 128 + signal.SIGTERM
            assert time.monotonic() - started < 2.0
        finally:
            second.kill()


# ---- the server goes away --------------------------------------------------------------------------------

def test_dovecot_stopped_and_restarted_mid_run(setup, engine):
    s = setup
    fill(s, engine, per_topic=4, seed=2)
    d = make_daemon(s, engine)
    thread = start(d)
    try:
        wait_for(lambda: len(s.sink.received) >= 5, 30, 0.01)
        s.dovecot.stop()
        time.sleep(1.5)
        assert len(s.sink.received) < forwards_due(s)
        s.dovecot.start()
        wait_for(lambda: len({k[1] for k in sent(s) if k[0] == "forward"}) == forwards_due(s), 60)
        wait_for(lambda: all(st.state == "idle" for st in d.stats.values()), 30)
    finally:
        finish(d, thread)
    assert sum(st.connection_errors for st in d.stats.values()) >= 1
    assert_all_done(s)


def test_connection_dropped_by_doveadm_kick_reconnects(setup, engine):
    s = setup
    d = make_daemon(s, engine)
    thread = start(d)
    try:
        wait_for(lambda: all(st.state == "idle" for st in d.stats.values()), 30)
        assert s.dovecot.kick(s.users["support"]) and s.dovecot.kick(s.users["sales"])
        wait_for(lambda: all(st.connects >= 2 for st in d.stats.values()), 15)
        for inbox in ("support", "sales"):
            raw = samples(inbox)[0]
            s.dovecot.deliver(s.users[inbox], raw)
            s.expected[message_id(raw)] = (*EXPECTED[message_id(raw)], inbox)
        wait_for(lambda: len(s.sink.received) == 2, 15)
        wait_for(lambda: all(st.state == "idle" for st in d.stats.values()), 15)
    finally:
        finish(d, thread)
    assert all(st.connection_errors >= 1 for st in d.stats.values())
    assert_all_done(s)


def test_changed_uidvalidity_neither_reprocesses_nor_skips(setup, engine):
    s = setup
    user = s.users["support"]
    first = [raw for raw in samples("support")]
    for raw in first:
        s.dovecot.deliver(user, raw)
        s.expected[message_id(raw)] = (*EXPECTED[message_id(raw)], "support")
    assert make_daemon(s, engine).run(once=True) == 0
    sent_before = len(s.sink.received)
    old = s.dovecot.uidvalidity(user)

    # The mailbox is rebuilt: new UIDVALIDITY, and some messages lost their keywords on the way.
    stripped = [m.uid for m in s.dovecot.messages(user)][:4]
    with s.dovecot.imap(user) as conn:
        for uid in stripped:
            conn.uid("STORE", str(uid), "-FLAGS", "($Triaged)")
    s.dovecot.set_uidvalidity(user, old + 1000)
    new = [raw for raw in samples("sales")[:3]]
    for raw in new:
        s.dovecot.deliver(user, raw)
        s.expected[message_id(raw)] = (*EXPECTED[message_id(raw)], "support")

    d = make_daemon(s, engine)
    assert d.run(once=True) == 0
    assert s.dovecot.uidvalidity(user) == old + 1000
    assert d.stats["support"].renumbered == 4, "the stripped mails are recognised, not triaged again"
    assert d.stats["support"].done == 3, "the new mails are triaged, not skipped"
    assert len(s.sink.received) == sent_before + sum(1 for raw in new if EXPECTED[message_id(raw)][0])
    assert_all_done(s)


def test_smtp_down_for_a_while_keeps_mail_pending_and_never_blocks_shutdown(setup, engine):
    s = setup
    fill(s, engine, per_topic=2, seed=3)
    s.sink.stop()
    d = make_daemon(s, engine)
    thread = start(d)
    wait_for(lambda: all(st.deferred >= 1 for st in d.stats.values()), 30)
    for user in s.users.values():
        marked = [m.flags for m in s.dovecot.messages(user) if "$Triaged" in m.flags]
        assert all(any(f.startswith("$Skipped_") for f in flags) for flags in marked), \
            "while SMTP is down only automated mail (nothing to send) gets marked"
    stopped = time.monotonic()
    finish(d, thread)
    assert time.monotonic() - stopped < 3.0, "SMTP being down does not hold up a shutdown"

    d = make_daemon(s, engine)
    thread = start(d)
    try:
        time.sleep(1.0)
        s.sink.start()
        wait_for(lambda: len({k[1] for k in sent(s) if k[0] == "forward"}) == forwards_due(s), 60)
        wait_for(lambda: all(st.state == "idle" and st.pending == 0 for st in d.stats.values()), 30)
    finally:
        finish(d, thread)
    assert_all_done(s)


def test_malformed_mail_in_the_backlog_is_quarantined(setup, engine):
    s = setup
    user = s.users["sales"]
    mails = samples("sales")
    for raw in mails[:2]:
        s.dovecot.deliver(user, raw)
        s.expected[message_id(raw)] = (*EXPECTED[message_id(raw)], "sales")
    bad = s.dovecot.append(user, MALFORMED.replace(b"\x00", b"").replace(b"\n", b"\r\n"))
    for raw in mails[2:]:
        s.dovecot.deliver(user, raw)
        s.expected[message_id(raw)] = (*EXPECTED[message_id(raw)], "sales")
    d = make_daemon(s, engine)
    assert d.run(once=True) == 0
    assert d.stats["sales"].quarantined == 1 and d.stats["sales"].done == len(mails)
    assert bad not in {m.uid for m in s.dovecot.messages(user)}
    quarantined = s.dovecot.messages(user, "Quarantine")
    assert len(quarantined) == 1 and b"this is no mail at all" in quarantined[0].raw
    assert_all_done(s)
