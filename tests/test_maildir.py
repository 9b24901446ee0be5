"""The Maildir adapter: the `Mailbox` protocol over a local Maildir (Maildir++ folders, Dovecot keyword files)."""

from __future__ import annotations

import logging
import mailbox as stdlib_mailbox
import os
import threading
import time
from pathlib import Path

import pytest
from dovecot import dovecot, dovecot_user  # noqa: F401  (pytest fixtures)

from triage.config import Inbox
from triage.errors import MailboxError
from triage.imap import ImapMailbox
from triage.maildir import MaildirMailbox
from triage.mailbox import MessageRef


def message(n: int, body: str = "Hallo", message_id: str | None = None) -> bytes:
    mid = message_id if message_id is not None else f"<m{n}@example.org>"
    return (f"From: kunde@example.org\r\nSubject: Frage {n}\r\nMessage-ID: {mid}\r\n\r\n{body}\r\n").encode()


def maildir_inbox(path: Path, name: str = "support", **overrides) -> Inbox:
    return Inbox(name=name, kind="maildir", team="support", path=path, **overrides)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "mail" / "support"


@pytest.fixture
def box(root: Path) -> MaildirMailbox:
    mailbox = MaildirMailbox(maildir_inbox(root))
    mailbox.connect()
    return mailbox


def deliver(root: Path, raw: bytes, key: str | None = None, info: str = "") -> str:
    """Put a message into the inbox as an MDA does: written to tmp/, renamed into new/ (or cur/ with info)."""
    if key is None:
        key = stdlib_mailbox.Maildir(root, create=False).add(raw)  # tmp/ -> new/
        if info:
            os.rename(root / "new" / key, root / "cur" / f"{key}:{info}")
        return key
    (root / "tmp" / key).write_bytes(raw)
    os.rename(root / "tmp" / key, root / ("cur" if info else "new") / (f"{key}:{info}" if info else key))
    return key


def files(folder: Path) -> list[str]:
    return sorted(p.name for sub in ("new", "cur") for p in (folder / sub).iterdir())


# ---- opening --------------------------------------------------------------------------------

def test_connect_creates_a_missing_maildir_with_its_parents(root):
    mailbox = MaildirMailbox(maildir_inbox(root))
    with pytest.raises(MailboxError, match="inbox support .*not connected"):
        mailbox.untriaged()
    mailbox.connect()
    assert all((root / sub).is_dir() for sub in ("cur", "new", "tmp"))
    assert mailbox.uidvalidity() == 0 and mailbox.untriaged() == []
    mailbox.close()
    mailbox.close()
    with pytest.raises(MailboxError, match="not connected"):
        mailbox.wait(0)


def test_connect_reports_a_path_that_cannot_be_a_maildir(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(MailboxError, match=r"inbox support \(Maildir .*file.*\): open failed"):
        MaildirMailbox(maildir_inbox(tmp_path / "file" / "inbox")).connect()


# ---- reading --------------------------------------------------------------------------------

def test_untriaged_lists_new_mail_oldest_first_by_delivery_time(box, root):
    # unique names of three deliveries: by text order "…10.M40…" would wrongly come before "…10.M5…"
    deliver(root, message(3), key="1700000010.M40P7Q3.host")
    deliver(root, message(1), key="1700000009.M999999P7Q1.host")
    deliver(root, message(2), key="1700000010.M5P7Q2.host", info="2,S")  # read by someone: still untriaged
    deliver(root, message(4), key="1700000011.M1P7Q4.host", info="2,T")  # deleted by someone: left alone
    refs = box.untriaged()
    assert [r.message_id for r in refs] == ["<m1@example.org>", "<m2@example.org>", "<m3@example.org>"]
    assert refs[0] == MessageRef("support", 0, "1700000009.M999999P7Q1.host", len(message(1)), "<m1@example.org>")


def test_fetch_returns_exact_bytes_without_touching_flags(box, root):
    raw = message(1, body="Grüße\r\nZeile zwei")
    key = deliver(root, raw)
    (ref,) = box.untriaged()
    assert ref.uid == key
    before = files(root)
    assert box.fetch(ref) == raw and box.fetch(ref, limit=len(raw)) == raw
    assert files(root) == before  # still in new/, no S flag


def test_fetch_with_a_limit_reads_only_the_header_of_a_big_message(box, root):
    raw = message(1, body="x" * 100_000)
    deliver(root, raw)
    (ref,) = box.untriaged()
    header = raw[: raw.index(b"\r\n\r\n") + 4]
    assert box.fetch(ref, limit=10_000) == header
    assert box.fetch(ref, limit=20) == header[:20]


# ---- changing -------------------------------------------------------------------------------

def test_mark_sets_keywords_in_the_file_name_the_dovecot_way(box, root):
    deliver(root, message(1))
    deliver(root, message(2))
    first, second = box.untriaged()
    box.mark(first, ["$Triaged", "$Topic_billing", "$Legal"], flagged=True)
    box.mark(second, ["$Triaged", "$Skipped_automated"])
    box.mark(second, ["$Triaged"])  # again: no change
    assert box.untriaged() == []
    keywords = dict(line.split(" ", 1)[::-1] for line in (root / "dovecot-keywords").read_text().splitlines())
    assert set(keywords) == {"$Triaged", "$Topic_billing", "$Legal", "$Skipped_automated"}
    letter = {name: chr(97 + int(index)) for name, index in keywords.items()}
    names = {name.split(":")[0]: name for name in os.listdir(root / "cur")}
    assert os.listdir(root / "new") == []
    assert names[first.uid] == f"{first.uid}:2,F" + "".join(sorted(letter[k] for k in ("$Triaged", "$Topic_billing",
                                                                                      "$Legal")))
    assert names[second.uid] == f"{second.uid}:2," + "".join(sorted(letter[k] for k in ("$Triaged",
                                                                                       "$Skipped_automated")))
    assert box.fetch(first) == message(1)  # the uid (key) survives the rename


def test_a_folder_runs_out_of_keyword_letters_with_a_clear_error(box, root):
    deliver(root, message(1))
    (ref,) = box.untriaged()
    box.mark(ref, [f"$K{i}" for i in range(26)])
    with pytest.raises(MailboxError, match="more than 26 keywords"):
        box.mark(ref, ["$Triaged"])
    with pytest.raises(ValueError):
        box.mark(ref, ["$Topic billing"])


def test_mark_and_move_of_a_vanished_message_only_warn(box, root, caplog):
    deliver(root, message(1))
    (ref,) = box.untriaged()
    for path in (root / "new").iterdir():
        path.unlink()
    with caplog.at_level(logging.WARNING, logger="triage.maildir"):
        box.mark(ref, ["$Triaged"])
        box.move(ref, "Quarantine")
    assert caplog.text.count("no longer in the inbox") == 2
    with pytest.raises(MailboxError, match="no longer in the inbox"):
        box.fetch(ref)


def test_move_into_nested_maildirplusplus_folders_keeps_keywords(box, root):
    deliver(root, message(1))
    deliver(root, message(2))
    first, second = box.untriaged()
    box.mark(second, ["$Skipped_automated"])  # takes letter a in the inbox
    box.mark(first, ["$Triaged", "$Topic_influma"], flagged=True)
    box.move(first, "Triaged/support")
    folder = root / ".Triaged.support"
    assert (root / ".Triaged" / "maildirfolder").exists() and (folder / "maildirfolder").exists()
    (name,) = os.listdir(folder / "cur")
    keywords = (folder / "dovecot-keywords").read_text().splitlines()
    assert sorted(line.split(" ", 1)[1] for line in keywords) == ["$Topic_influma", "$Triaged"]
    assert name == f"{first.uid}:2,Fab"  # letters of the target folder's own keyword file
    assert (folder / "cur" / name).read_bytes() == message(1)
    assert [r.uid for r in box.untriaged()] == [second.uid]
    box.move(first, "Triaged/support")  # a retried move finds nothing left to do


def test_append_writes_exact_bytes_atomically_with_flags(box, root):
    draft = b"Message-ID: <draft-1@triage>\nSubject: Entwurf\n\nbare LF stays bare LF\n"
    box.append("Drafts", draft, ["\\Draft", "$Triage_draft"])
    box.append("Groups/sales", message(5), [])
    (name,) = os.listdir(root / ".Drafts" / "cur")
    assert name.endswith(":2,Da")
    assert (root / ".Drafts" / "cur" / name).read_bytes() == draft
    assert os.listdir(root / ".Drafts" / "tmp") == [] and os.listdir(root / ".Drafts" / "new") == []
    assert (root / ".Groups" / "cur").is_dir() and len(os.listdir(root / ".Groups.sales" / "cur")) == 1
    assert box.untriaged() == []  # other folders are not the inbox
    with pytest.raises(ValueError):
        box.append("Drafts", draft, ["\\Recent"])


def test_folder_names_a_maildirplusplus_tree_cannot_hold_are_refused(box):
    for bad in ["a.b", "Triaged/x.y", "a//b", ""]:
        with pytest.raises(MailboxError, match="not a Maildir\\+\\+ folder name"):
            box.append(bad, message(1), [])


def test_contains_matches_the_whole_header_value_only(box, root):
    box.append("Drafts", message(1, message_id="<draft-inbox-7@triage>"), ["\\Draft"])
    deliver(root, message(2, message_id="<draft-inbox-42@triage>"))
    assert box.contains("Drafts", "Message-ID", "<draft-inbox-7@triage>")
    assert not box.contains("Drafts", "Message-ID", "<draft-inbox-7")
    assert box.contains("INBOX", "Message-ID", "<draft-inbox-42@triage>")
    assert not box.contains("Nowhere", "Message-ID", "<draft-inbox-7@triage>")
    assert not (root / ".Nowhere").exists()


def test_refs_of_other_inboxes_or_not_maildir_keys_are_refused(box, root):
    deliver(root, message(1))
    (ref,) = box.untriaged()
    for bad in [MessageRef("sales", 0, ref.uid, 1), MessageRef("support", 7, ref.uid, 1),
                MessageRef("support", 0, "../../etc/passwd", 1), MessageRef("support", 0, "x:2,S", 1)]:
        with pytest.raises(MailboxError):
            box.fetch(bad)


# ---- waiting --------------------------------------------------------------------------------

def test_wait_returns_early_when_mail_appears(box, root):
    deliver(root, message(1))
    (ref,) = box.untriaged()
    box.mark(ref, ["$Triaged"])  # our own rename is no news
    started = time.monotonic()
    assert box.wait(0.6) is False
    assert 0.55 <= time.monotonic() - started < 1.5
    delivered: list[float] = []

    def later() -> None:
        time.sleep(0.3)
        deliver(root, message(2))
        delivered.append(time.monotonic())

    thread = threading.Thread(target=later)
    thread.start()
    try:
        assert box.wait(10) is True
        returned = time.monotonic()
    finally:
        thread.join()
    assert returned - delivered[0] < 0.6
    assert [r.message_id for r in box.untriaged()] == ["<m2@example.org>"]


def test_mail_that_came_before_wait_is_seen_at_once(box, root):
    box.untriaged()
    deliver(root, message(1), info="2,S")  # straight into cur/, as some MDAs and mail readers do
    started = time.monotonic()
    assert box.wait(5) is True
    assert time.monotonic() - started < 0.1


# ---- the same Maildir served by Dovecot -----------------------------------------------------

@pytest.mark.dovecot
def test_the_maildir_layout_is_the_one_dovecot_uses(dovecot, dovecot_user):
    for n in (1, 2, 3):
        dovecot.deliver(dovecot_user, message(n))
    imap = ImapMailbox(dovecot.inbox(dovecot_user))
    imap.connect()
    try:
        imap.mark(imap.untriaged()[0], ["$Triaged", "$Topic_billing"], flagged=True)  # Dovecot writes the files
        local = MaildirMailbox(maildir_inbox(dovecot.maildir(dovecot_user), name=dovecot_user.name))
        local.connect()
        refs = local.untriaged()
        assert [r.message_id for r in refs] == ["<m2@example.org>", "<m3@example.org>"]
        local.mark(refs[0], ["$Triaged", "$Legal"], flagged=True)
        local.move(refs[1], "Triaged/sales")
        local.append("Drafts", message(9), ["\\Draft", "$Triage_draft"])
        dovecot.give_to_mail_user(dovecot_user)  # the daemon would run as the mail user
        imap.connect()
        assert imap.untriaged() == []
    finally:
        imap.close()
    inbox = dovecot.messages(dovecot_user)
    assert [m.flags for m in inbox] == [{"$Triaged", "$Topic_billing", "\\Flagged"},
                                        {"$Triaged", "$Legal", "\\Flagged"}]
    assert [m.raw.endswith(message(3)) for m in dovecot.messages(dovecot_user, "Triaged/sales")] == [True]
    (draft,) = dovecot.messages(dovecot_user, "Drafts")
    assert draft.raw == message(9) and draft.flags == {"\\Draft", "$Triage_draft"}
