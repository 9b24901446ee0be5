"""The IMAP adapter against a real, private Dovecot (see tests/dovecot.py)."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from dovecot import Dovecot, DovecotUser, dovecot, dovecot_user  # noqa: F401  (pytest fixtures)

from triage import imap as imap_module
from triage.config import Inbox, Secret
from triage.errors import MailboxError
from triage.imap import ImapMailbox, folder_chain
from triage.mailbox import MessageRef

def message(n: int, body: str = "Hallo", message_id: str | None = None, extra: str = "") -> bytes:
    mid = message_id if message_id is not None else f"<m{n}@example.org>"
    return (f"From: Kunde <kunde@example.org>\r\nTo: support@example.org\r\nSubject: Frage {n}\r\n"
            f"Message-ID: {mid}\r\n{extra}\r\n{body}\r\n").encode()


@contextmanager
def later(delay: float, action: Callable[[], object]) -> Iterator[list[float]]:
    """Run ``action`` in a thread after ``delay`` seconds; yields [monotonic time it ran]."""
    ran: list[float] = []
    errors: list[BaseException] = []

    def run() -> None:
        time.sleep(delay)
        try:
            action()
        except BaseException as exc:  # surfaced in the test thread
            errors.append(exc)
        ran.append(time.monotonic())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield ran
    finally:
        thread.join(timeout=30)
    if errors:
        raise errors[0]


@contextmanager
def opened(server: Dovecot, user: DovecotUser, security: str = "tls", **overrides: object) -> Iterator[ImapMailbox]:
    idle_renew = overrides.pop("idle_renew", 600.0)
    mailbox = ImapMailbox(server.inbox(user, security, **overrides), idle_renew=idle_renew)  # type: ignore[arg-type]
    mailbox.connect()
    try:
        yield mailbox
    finally:
        mailbox.close()


# ---- folder names (pure) --------------------------------------------------------------------

@pytest.mark.parametrize(("folder", "separator", "prefix", "expected"), [
    ("Drafts", "/", "", ["Drafts"]),
    ("Triaged/support", "/", "", ["Triaged", "Triaged/support"]),
    ("Triaged/support", ".", "", ["Triaged", "Triaged.support"]),
    ("Triaged/support", ".", "INBOX.", ["INBOX.Triaged", "INBOX.Triaged.support"]),
    ("INBOX/Drafts", ".", "INBOX.", ["INBOX.Drafts"]),
    ("inbox", ".", "INBOX.", ["INBOX"]),
    ("/Quarantine/", "/", "", ["Quarantine"]),
    ("Quarantine", None, "", ["Quarantine"]),
])
def test_folder_names_follow_the_servers_separator_and_prefix(folder, separator, prefix, expected):
    assert folder_chain(folder, separator, prefix) == expected


@pytest.mark.parametrize(("folder", "separator"), [("", "/"), ("a//b", "/"), ("a.b/c", "."), ("a/b", None)])
def test_folder_names_the_server_cannot_hold_are_refused(folder, separator):
    with pytest.raises(ValueError):
        folder_chain(folder, separator)


# ---- connecting -----------------------------------------------------------------------------

@pytest.mark.dovecot
@pytest.mark.parametrize("security", ["tls", "starttls", "none"])
def test_connects_with_each_kind_of_transport(dovecot, dovecot_user, security):
    dovecot.append(dovecot_user, message(1))
    with opened(dovecot, dovecot_user, security) as mailbox:
        assert mailbox.uidvalidity() == dovecot.uidvalidity(dovecot_user)
        assert [ref.message_id for ref in mailbox.untriaged()] == ["<m1@example.org>"]


@pytest.mark.dovecot
@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_a_certificate_from_an_unknown_ca_is_refused_unless_verify_is_off(dovecot, dovecot_user, security):
    mailbox = ImapMailbox(dovecot.inbox(dovecot_user, security, ca_file=None))  # system CAs only
    with pytest.raises(MailboxError, match="certificate") as caught:
        mailbox.connect()
    assert dovecot_user.name in str(caught.value) and f"127.0.0.1:{mailbox.inbox.port}" in str(caught.value)
    with pytest.raises(MailboxError, match="not connected"):
        mailbox.untriaged()
    with opened(dovecot, dovecot_user, security, ca_file=None, verify=False) as unverified:
        assert unverified.untriaged() == []


def test_starttls_never_falls_back_to_plain_text():
    """A server (or a man in the middle) that does not offer STARTTLS gets no password."""
    received: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with conn, conn.makefile("rwb") as stream:
                stream.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LOGIN] plain only\r\n")
                stream.flush()
                for line in stream:
                    received.append(line)
                    tag, _, command = line.decode().strip().partition(" ")
                    if command.upper().startswith("CAPABILITY"):
                        stream.write(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN LOGIN\r\n")
                    if command.upper().startswith("LOGOUT"):
                        stream.write(b"* BYE bye\r\n")
                    stream.write(f"{tag} OK done\r\n".encode())
                    stream.flush()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        inbox = Inbox(name="support", kind="imap", team="support", host="127.0.0.1", port=port,
                      security="starttls", username="support", password=Secret(env="TRIAGE_TEST_UNUSED"), timeout=5)
        mailbox = ImapMailbox(inbox)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("TRIAGE_TEST_UNUSED", "plain-secret")
            with pytest.raises(MailboxError, match="STARTTLS failed: the server does not offer STARTTLS"):
                mailbox.connect()
        thread.join(timeout=5)
    assert not any(b"LOGIN" in line or b"plain-secret" in line for line in received)


@pytest.mark.dovecot
def test_a_wrong_password_names_inbox_and_host_but_never_the_password(dovecot, dovecot_user, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = dovecot.add_user(password="Wr0ng-Secret-Pw")  # a real password of another user, used for this one
    inbox = dovecot.inbox(dovecot_user, "none")
    inbox = replace(inbox, password=replace(inbox.password, file=dovecot.password_file(wrong)))
    mailbox = ImapMailbox(inbox)
    with pytest.raises(MailboxError) as caught:
        mailbox.connect()
    text = str(caught.value)
    assert f"inbox {dovecot_user.name}" in text and f"127.0.0.1:{dovecot.imap_port}" in text
    assert "login" in text and "Wr0ng-Secret-Pw" not in text
    # imapclient did log the protocol at DEBUG level, yet the password is not in it
    assert "LOGIN" in caplog.text
    assert "Wr0ng-Secret-Pw" not in caplog.text
    # ... nor the right one after a successful login, nor in lines imapclient might log later
    with opened(dovecot, dovecot_user, "none") as mailbox:
        logging.getLogger("imapclient.imaplib").debug("> b'X LOGIN u %s'", dovecot_user.password)
        logging.getLogger("imapclient.imapclient").debug('quoted "%s"', dovecot_user.password)
    assert "Connected to host" in caplog.text
    assert dovecot_user.password not in caplog.text


@pytest.mark.dovecot
def test_calls_before_connect_fail_cleanly(dovecot, dovecot_user):
    mailbox = ImapMailbox(dovecot.inbox(dovecot_user))
    with pytest.raises(MailboxError, match=f"inbox {dovecot_user.name}.*not connected"):
        mailbox.untriaged()
    mailbox.close()
    mailbox.close()


# ---- reading --------------------------------------------------------------------------------

@pytest.mark.dovecot
def test_untriaged_lists_new_mail_oldest_first_with_size_and_message_id(dovecot, dovecot_user):
    raws = [message(1), message(2, message_id="\r\n <folded@example.org> (comment)"), message(3), message(4)]
    uids = [dovecot.append(dovecot_user, raws[0]),
            dovecot.append(dovecot_user, raws[1]),
            dovecot.append(dovecot_user, raws[2], flags=["$Triaged"]),
            dovecot.append(dovecot_user, raws[3], flags=["\\Deleted"])]
    with opened(dovecot, dovecot_user) as mailbox:
        refs = mailbox.untriaged()
        validity = mailbox.uidvalidity()
    assert refs == [
        MessageRef(dovecot_user.name, validity, str(uids[0]), len(raws[0]), "<m1@example.org>"),
        MessageRef(dovecot_user.name, validity, str(uids[1]), len(raws[1]), "<folded@example.org>"),
    ]


@pytest.mark.dovecot
def test_fetch_returns_the_exact_message_and_never_sets_seen(dovecot, dovecot_user):
    raw = message(1, body="Grüße\r\nZeile zwei")
    uid = dovecot.append(dovecot_user, raw)
    with opened(dovecot, dovecot_user) as mailbox:
        (ref,) = mailbox.untriaged()
        assert mailbox.fetch(ref) == raw
        assert mailbox.fetch(ref, limit=len(raw)) == raw
    assert "\\Seen" not in dovecot.flags(dovecot_user, uid)


@pytest.mark.dovecot
def test_fetch_with_a_limit_reads_only_the_header_of_a_big_message(dovecot, dovecot_user):
    body = "x" * 200 + "\r\n"
    raw = message(1, body=body * 500)  # about 100 kB
    header = raw[: raw.index(b"\r\n\r\n") + 4]
    dovecot.append(dovecot_user, raw)
    with opened(dovecot, dovecot_user) as mailbox:
        (ref,) = mailbox.untriaged()
        assert mailbox.fetch(ref, limit=10_000) == header
        assert mailbox.fetch(ref, limit=50) == header[:50]
        # the size from the ref is trusted; with an unknown size the adapter asks the server first
        assert mailbox.fetch(replace(ref, size=0), limit=10_000) == header
    # Dovecot's own account of the session: no message body went over the wire
    assert _logged_body_bytes(dovecot, dovecot_user) < len(body)


def _logged_body_bytes(server: Dovecot, user: DovecotUser) -> int:
    pattern = re.compile(rf"imap\({user.name}\).*Disconnected.*body_bytes=(\d+)")
    deadline = time.monotonic() + 3
    while True:
        counts = [int(m.group(1)) for m in pattern.finditer(server.log_file.read_text())]
        if counts or time.monotonic() > deadline:
            assert counts, "Dovecot logged no session end"
            return sum(counts)
        time.sleep(0.05)


# ---- changing -------------------------------------------------------------------------------

@pytest.mark.dovecot
def test_mark_adds_keywords_and_flagged_and_hides_the_mail_from_untriaged(dovecot, dovecot_user, caplog):
    uid = dovecot.append(dovecot_user, message(1))
    other = dovecot.append(dovecot_user, message(2))
    with opened(dovecot, dovecot_user) as mailbox:
        first, second = mailbox.untriaged()
        mailbox.mark(first, ["$Triaged", "$Topic_billing", "$Legal"], flagged=True)
        mailbox.mark(second, ["$Triaged", "$Skipped_automated"])
        with caplog.at_level(logging.WARNING, logger="triage.imap"):
            mailbox.mark(first, ["$Triaged"], flagged=True)  # again: nothing changes, nothing to warn about
        assert caplog.records == []
        assert mailbox.untriaged() == []
    assert dovecot.flags(dovecot_user, uid) == {"$Triaged", "$Topic_billing", "$Legal", "\\Flagged"}
    assert dovecot.flags(dovecot_user, other) == {"$Triaged", "$Skipped_automated"}


@pytest.mark.dovecot
def test_mark_and_move_of_a_vanished_message_only_warn(dovecot, dovecot_user, caplog):
    dovecot.append(dovecot_user, message(1))
    with opened(dovecot, dovecot_user) as mailbox:
        (ref,) = mailbox.untriaged()
        with dovecot.imap(dovecot_user) as other_client:  # a human deletes it meanwhile
            other_client.uid("STORE", ref.uid, "+FLAGS", "(\\Deleted)")
            other_client.expunge()
        with caplog.at_level(logging.WARNING, logger="triage.imap"):
            mailbox.mark(ref, ["$Triaged"])
        assert "no longer in INBOX" in caplog.text
        mailbox.move(ref, "Quarantine")
        with pytest.raises(MailboxError, match="no longer in INBOX"):
            mailbox.fetch(ref)
    assert dovecot.messages(dovecot_user, "Quarantine") == []


@pytest.mark.dovecot
def test_invalid_keywords_are_refused_before_anything_is_sent(dovecot, dovecot_user):
    dovecot.append(dovecot_user, message(1))
    with opened(dovecot, dovecot_user) as mailbox:
        (ref,) = mailbox.untriaged()
        for bad in ["$Topic billing", "$Topic(x)", "", '$"q"']:
            with pytest.raises(ValueError):
                mailbox.mark(ref, [bad])
        assert mailbox.untriaged() == [ref]


@pytest.mark.dovecot
def test_move_creates_nested_folders_parent_first_and_keeps_keywords(dovecot, dovecot_user):
    dovecot.append(dovecot_user, message(1))
    with opened(dovecot, dovecot_user) as mailbox:
        (ref,) = mailbox.untriaged()
        mailbox.mark(ref, ["$Triaged", "$Topic_influma"])
        mailbox.move(ref, "Triaged/support")
        assert mailbox.untriaged() == []
    folders = dovecot.folders(dovecot_user)
    assert "\\Noselect" not in folders["Triaged"] and "\\Noselect" not in folders["Triaged/support"]
    (moved,) = dovecot.messages(dovecot_user, "Triaged/support")
    assert moved.raw == message(1) and {"$Triaged", "$Topic_influma"} <= moved.flags
    assert dovecot.messages(dovecot_user, "INBOX") == []


@pytest.mark.dovecot
def test_move_without_the_move_extension_expunges_only_its_own_message(dovecot, dovecot_user):
    dovecot.append(dovecot_user, message(1))
    kept = dovecot.append(dovecot_user, message(2), flags=["\\Deleted", "$Triaged"])  # a human's pending delete
    with opened(dovecot, dovecot_user) as mailbox:
        mailbox._capabilities -= {b"MOVE"}  # as on a server without RFC 6851
        (ref,) = mailbox.untriaged()
        mailbox.move(ref, "Quarantine")
    assert [m.raw for m in dovecot.messages(dovecot_user, "Quarantine")] == [message(1)]
    assert [m.uid for m in dovecot.messages(dovecot_user, "INBOX")] == [kept]


@pytest.mark.dovecot
def test_append_stores_exact_bytes_with_flags_creating_folders(dovecot, dovecot_user):
    draft = message(9, message_id="<draft-1@triage>")
    with opened(dovecot, dovecot_user) as mailbox:
        mailbox.append("Drafts", draft, ["\\Draft"])
        mailbox.append("Groups/sales", message(10), [])
    (stored,) = dovecot.messages(dovecot_user, "Drafts")
    assert stored.raw == draft and stored.flags == {"\\Draft"}
    folders = dovecot.folders(dovecot_user)
    assert "\\Noselect" not in folders["Groups"]
    assert [m.raw for m in dovecot.messages(dovecot_user, "Groups/sales")] == [message(10)]


@pytest.mark.dovecot
def test_contains_matches_the_whole_header_value_only(dovecot, dovecot_user):
    dovecot.append(dovecot_user, message(1, message_id="<draft-inbox-42-forward@triage>"), folder="INBOX")
    dovecot.append(dovecot_user, message(2, message_id="<draft-inbox-42@triage>"))
    with opened(dovecot, dovecot_user) as mailbox:
        mailbox.append("Drafts", message(3, message_id="<draft-inbox-7@triage>"), ["\\Draft"])
        assert mailbox.contains("Drafts", "Message-ID", "<draft-inbox-7@triage>")
        assert not mailbox.contains("Drafts", "Message-ID", "<draft-inbox-7")  # a substring is not a match
        assert not mailbox.contains("Drafts", "Message-ID", "<draft-inbox-42@triage>")
        assert mailbox.contains("INBOX", "Message-ID", "<draft-inbox-42@triage>")
        assert not mailbox.contains("INBOX", "Message-ID", "<draft-inbox-42-forw")
        assert not mailbox.contains("Nowhere", "Message-ID", "<draft-inbox-7@triage>")
        # the inbox is selected again afterwards
        first = mailbox.untriaged()[0]
        mailbox.mark(first, ["$Triaged"])
        assert len(mailbox.untriaged()) == 1
    assert "Nowhere" not in dovecot.folders(dovecot_user)


# ---- waiting --------------------------------------------------------------------------------

@pytest.mark.dovecot
def test_idle_returns_soon_after_a_delivery(dovecot, dovecot_user):
    with opened(dovecot, dovecot_user) as mailbox:
        assert mailbox.untriaged() == []
        with later(0.3, lambda: dovecot.deliver(dovecot_user, message(1))) as delivered:
            started = time.monotonic()
            assert mailbox.wait(10) is True
            returned = time.monotonic()
        assert returned - started < 5
        assert delivered and returned - delivered[0] < 1.5
        assert [ref.message_id for ref in mailbox.untriaged()] == ["<m1@example.org>"]


@pytest.mark.dovecot
def test_idle_times_out_without_mail_ignoring_keepalives(dovecot, dovecot_user):
    # the test server sends "* OK Still here" every second during IDLE
    with opened(dovecot, dovecot_user) as mailbox:
        mailbox.untriaged()
        started = time.monotonic()
        assert mailbox.wait(2.5) is False
        assert 2.4 <= time.monotonic() - started < 4


@pytest.mark.dovecot
def test_interrupt_ends_an_idle_wait_at_once_and_the_connection_stays_usable(dovecot, dovecot_user):
    import threading

    with opened(dovecot, dovecot_user) as mailbox:
        mailbox.untriaged()
        result: list[bool] = []
        waiter = threading.Thread(target=lambda: result.append(mailbox.wait(30)))
        waiter.start()
        time.sleep(0.5)  # well inside IDLE
        started = time.monotonic()
        mailbox.interrupt()
        waiter.join(5)
        assert not waiter.is_alive() and result == [False]
        assert time.monotonic() - started < 1.0
        dovecot.deliver(dovecot_user, message(7))
        assert mailbox.wait(5) is True  # the interrupt is used up; IDLE works as before
        assert "<m7@example.org>" in [r.message_id for r in mailbox.untriaged()]


@pytest.mark.dovecot
@pytest.mark.parametrize("command_in_between", [False, True])
def test_mail_arriving_before_wait_is_not_missed(dovecot, dovecot_user, command_in_between):
    dovecot.append(dovecot_user, message(1))
    with opened(dovecot, dovecot_user) as mailbox:
        (ref,) = mailbox.untriaged()
        dovecot.deliver(dovecot_user, message(2))
        if command_in_between:  # the server announces the new mail in this command's reply
            mailbox.mark(ref, ["$Triaged"])
        started = time.monotonic()
        assert mailbox.wait(5) is True
        assert time.monotonic() - started < 1.5
        assert "<m2@example.org>" in [r.message_id for r in mailbox.untriaged()]


@pytest.mark.dovecot
def test_idle_is_renewed_and_still_notices_mail(dovecot, dovecot_user, caplog):
    caplog.set_level(logging.DEBUG, logger="triage.imap")
    with opened(dovecot, dovecot_user, idle_renew=0.4) as mailbox:
        mailbox.untriaged()
        assert mailbox.wait(1.3) is False
        assert caplog.text.count("IDLE renewed") >= 2
        with later(1.0, lambda: dovecot.deliver(dovecot_user, message(1))):
            assert mailbox.wait(10) is True


@pytest.mark.dovecot
def test_polling_when_idle_is_off(dovecot, dovecot_user):
    with opened(dovecot, dovecot_user, idle=False, poll_interval=0.8) as mailbox:
        mailbox.untriaged()
        started = time.monotonic()
        assert mailbox.wait(0.3) is False  # no poll due yet
        assert 0.25 <= time.monotonic() - started < 0.6
        dovecot.deliver(dovecot_user, message(1))
        assert mailbox.wait(5) is True  # the poll falls due
        assert 0.7 <= time.monotonic() - started < 1.5
        assert len(mailbox.untriaged()) == 1


@pytest.mark.dovecot
def test_polling_when_the_server_refuses_idle(dovecot, dovecot_user, monkeypatch, caplog):
    with opened(dovecot, dovecot_user, poll_interval=0.5) as mailbox:
        mailbox.untriaged()

        def refuse() -> None:  # what imapclient raises when the server answers IDLE with NO
            raise imap_module.imap_errors.IMAPClientError("IDLE failed: NO not now")

        monkeypatch.setattr(mailbox._client, "idle", refuse)
        with caplog.at_level(logging.WARNING, logger="triage.imap"):
            started = time.monotonic()
            assert mailbox.wait(5) is True
        assert time.monotonic() - started < 1.5
        assert "refused IDLE" in caplog.text
        assert mailbox.untriaged() == []  # the connection still works


# ---- failures -------------------------------------------------------------------------------

@pytest.mark.dovecot
def test_a_killed_server_gives_mailbox_errors_until_it_is_back(dovecot, dovecot_user):
    dovecot.append(dovecot_user, message(1))
    mailbox = ImapMailbox(dovecot.inbox(dovecot_user))
    mailbox.connect()
    try:
        dovecot.kill()
        with pytest.raises(MailboxError) as caught:
            mailbox.untriaged()
        assert f"inbox {dovecot_user.name} (127.0.0.1:{dovecot.imaps_port})" in str(caught.value)
        with pytest.raises(MailboxError, match="not connected"):
            mailbox.untriaged()
        with pytest.raises(MailboxError, match="connection refused"):
            mailbox.connect()
        dovecot.start()
        mailbox.connect()
        assert len(mailbox.untriaged()) == 1  # nothing stored was lost
    finally:
        mailbox.close()
        dovecot.ensure_running()


@pytest.mark.dovecot
def test_a_server_killed_during_idle_ends_the_wait_with_an_error(dovecot, dovecot_user):
    with opened(dovecot, dovecot_user) as mailbox:
        mailbox.untriaged()
        try:
            with later(0.3, dovecot.kill):
                started = time.monotonic()
                with pytest.raises(MailboxError, match=f"inbox {dovecot_user.name}.*wait for new mail"):
                    mailbox.wait(10)
                assert time.monotonic() - started < 3
        finally:
            dovecot.ensure_running()
        mailbox.connect()
        assert mailbox.untriaged() == []


@pytest.mark.dovecot
def test_a_stopped_server_says_bye_during_idle(dovecot, dovecot_user):
    with opened(dovecot, dovecot_user, "none") as mailbox:
        mailbox.untriaged()
        try:
            with later(0.3, dovecot.stop):
                with pytest.raises(MailboxError, match="BYE|closed"):
                    mailbox.wait(10)
        finally:
            dovecot.ensure_running()


@pytest.mark.dovecot
def test_a_kicked_connection_gives_an_error_and_can_reconnect(dovecot, dovecot_user):
    dovecot.append(dovecot_user, message(1))
    with opened(dovecot, dovecot_user) as mailbox:
        (ref,) = mailbox.untriaged()
        assert dovecot.kick(dovecot_user)
        with pytest.raises(MailboxError, match=f"inbox {dovecot_user.name}"):
            mailbox.mark(ref, ["$Triaged"])
        mailbox.connect()
        mailbox.mark(ref, ["$Triaged"])
        assert mailbox.untriaged() == []
        # kicked while waiting in IDLE: the server's BYE ends the wait at once
        with later(0.3, lambda: dovecot.kick(dovecot_user)):
            started = time.monotonic()
            with pytest.raises(MailboxError, match="wait for new mail"):
                mailbox.wait(10)
            assert time.monotonic() - started < 3


@pytest.mark.dovecot
def test_a_server_that_stops_answering_times_out(dovecot, dovecot_user):
    with opened(dovecot, dovecot_user, timeout=0.5) as mailbox:
        mailbox.untriaged()
        dovecot.pause()
        try:
            started = time.monotonic()
            with pytest.raises(MailboxError, match=r"no answer within 0.5 s"):
                mailbox.untriaged()
            with pytest.raises(MailboxError, match=r"connect failed: no answer within 0.5 s"):
                mailbox.connect()
            assert time.monotonic() - started < 3
        finally:
            dovecot.resume()
        mailbox.connect()
        assert mailbox.untriaged() == []


@pytest.mark.dovecot
def test_a_uidvalidity_change_is_seen_and_old_refs_are_refused(dovecot, dovecot_user, caplog):
    dovecot.append(dovecot_user, message(1))
    with opened(dovecot, dovecot_user) as mailbox:
        (ref,) = mailbox.untriaged()
        old = mailbox.uidvalidity()
        dovecot.set_uidvalidity(dovecot_user, old + 1000)
        with pytest.raises(MailboxError):  # Dovecot ends a session whose folder was renumbered
            mailbox.untriaged()
        with caplog.at_level(logging.WARNING, logger="triage.imap"):
            mailbox.connect()
        assert mailbox.uidvalidity() == old + 1000
        assert f"UIDVALIDITY changed from {old} to {old + 1000}" in caplog.text
        with pytest.raises(MailboxError, match="UIDVALIDITY"):
            mailbox.mark(ref, ["$Triaged"])
        (renumbered,) = mailbox.untriaged()
        assert renumbered.uidvalidity == old + 1000 and renumbered.message_id == ref.message_id
    assert "$Triaged" not in dovecot.flags(dovecot_user, int(renumbered.uid))
