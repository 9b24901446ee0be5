"""Shared helpers of the daemon tests: the bundled sample mails, configs, and reading Maildirs and forwards."""

from __future__ import annotations

import email
import itertools
import os
import time
import tomllib
from collections.abc import Callable
from email import policy
from email.message import Message
from pathlib import Path
from typing import Any

from triage.config import Config, parse_config

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "examples" / "sample-mails"
MAILDIR_CONFIG = ROOT / "examples" / "maildir.toml"

# What each bundled sample must become: (group address or None for automated mail, draft?, alert?)
EXPECTED = {
    "<sample-01@bauunternehmen-wendt.de>": ("support-team@example.com", True, False),
    "<sample-02@brenner-recht.de>": ("deletion@example.com", True, True),
    "<sample-03@hotel-sonnenhof.de>": ("accounting@example.com", False, False),
    "<sample-04@havershamcycles.co.uk>": ("blog2social-en@example.com", True, False),
    "<sample-05@agentur-lehnert.de>": (None, False, False),
    "<sample-06@kraemer-consulting.de>": ("support-team@example.com", False, False),
    "<sample-07@vogt-naturkosmetik.de>": ("influma@example.com", False, False),
    "<sample-11@kessler-maschinenbau.de>": ("sales@example.com", False, False),
    "<sample-12@brightpath-pr.com>": ("sales@example.com", False, False),
    "<sample-13@stadtwerke-lindau.de>": ("editorial@example.com", False, False),
    "<sample-14@gerlach-events.de>": ("accounting@example.com", False, False),
    "<sample-15@mx.example.net>": (None, False, False),
}
CLEANUP = "portal-cleanup@example.com"
MALFORMED = b"\x00\x01\x02 this is no mail at all\n\n\xff\xfe"
_keys = itertools.count(1)


def samples(inbox: str) -> list[bytes]:
    """The bundled sample mails of ``inbox`` (support or sales), in file order."""
    return [path.read_bytes() for path in sorted((SAMPLES / inbox).glob("*.eml"))]


def raw_config(**daemon: Any) -> dict[str, Any]:
    """examples/maildir.toml as a TOML table, with ``[daemon]`` keys overridden."""
    raw = tomllib.loads(MAILDIR_CONFIG.read_text(encoding="utf-8"))
    raw["daemon"].update(daemon)
    return raw


def maildir_config(base: Path, raw: dict[str, Any] | None = None, **daemon: Any) -> Config:
    """The demo configuration with every relative path under ``base``."""
    return parse_config(raw or raw_config(**daemon), str(MAILDIR_CONFIG), base=base)


def deliver(maildir: Path, raw: bytes) -> str:
    """Put ``raw`` into ``maildir/new`` as a newly delivered message (keys sort in delivery order); its key."""
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    n = next(_keys)
    key = f"{int(time.time())}.M{n:06d}P{os.getpid()}Q{n}.test"
    tmp = maildir / "tmp" / key
    tmp.write_bytes(raw)
    os.rename(tmp, maildir / "new" / key)
    return key


def files(maildir: Path) -> list[Path]:
    """Every message file of a Maildir (new and cur), sorted by name."""
    return sorted(p for sub in ("new", "cur") if (maildir / sub).is_dir() for p in (maildir / sub).iterdir())


def keywords(maildir: Path, path: Path) -> set[str]:
    """The keywords and system flags of one Maildir message file (\\Flagged, \\Draft …)."""
    names = {}
    keyword_file = maildir / "dovecot-keywords"
    if keyword_file.exists():
        for line in keyword_file.read_text().splitlines():
            index, _, name = line.partition(" ")
            names[chr(97 + int(index))] = name
    flags = path.name.partition(":2,")[2]
    system = {"F": "\\Flagged", "D": "\\Draft", "S": "\\Seen", "T": "\\Deleted", "R": "\\Answered"}
    return {names.get(c, c) if c.islower() else system.get(c, c) for c in flags}


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=policy.default)


def attached(forward: bytes) -> Message:
    """The original attached to a forward or alert (its ``message/rfc822`` part)."""
    message = parse(forward)
    parts = [part for part in message.walk() if part.get_content_type() == "message/rfc822"]
    assert len(parts) == 1, "a forward carries exactly one attached original"
    return parts[0].get_payload(0)


def summary(forward: bytes) -> str:
    """The plain-text part on top of a forward or alert."""
    body = parse(forward).get_body(("plain",))
    assert body is not None
    return body.get_content()


def group_mail(root: Path) -> dict[str, list[bytes]]:
    """What the Maildir delivery put under ``root``: recipient address → raw messages."""
    if not root.is_dir():
        return {}
    return {box.name: [p.read_bytes() for p in files(box)] for box in sorted(root.iterdir()) if box.is_dir()}


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something true (returned) or ``timeout`` passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


# ---- corpus batches ----------------------------------------------------------------------------------------

def corpus_batch(engine, per_topic: int, seed: int = 0, automated: int = 2) -> list[tuple[bytes, Any]]:
    """Mails of every topic from the corpus's test split, each with the engine's decision.

    Only mails whose decision agrees with their label are taken, so the
    daemon tests check routing and delivery, not the classifier.
    """
    import random

    from triage.corpus import load, to_mime

    rng = random.Random(seed)
    records = [r for r in load() if r.split == "test"]
    rng.shuffle(records)
    wanted: dict[str, int] = {}
    batch: list[tuple[bytes, Any]] = []
    candidates = [(r, to_mime(r)) for r in records]
    outcomes = engine.triage_raw([raw for _, raw in candidates])
    for (record, raw), outcome in zip(candidates, outcomes):
        topic = record.topic
        limit = automated if topic == "automated" else per_topic
        if wanted.get(topic, 0) >= limit or outcome.decision is None:
            continue
        decision = outcome.decision
        agrees = decision.skipped is not None if topic == "automated" else (decision.topic == topic and not decision.skipped)
        if agrees:
            wanted[topic] = wanted.get(topic, 0) + 1
            batch.append((raw, decision))
    return batch


def message_id(raw: bytes) -> str:
    return str(parse(raw)["Message-ID"])


# ---- IMAP + SMTP configurations ----------------------------------------------------------------------------

def imap_config_text(dovecot, users: dict, smtp_port: int, state: Path, **daemon: Any) -> str:
    """A full TOML configuration: the demo's routing, IMAP inboxes on the test Dovecot, SMTP to the sink.

    ``support`` connects with IMAPS, the other inboxes with STARTTLS, all verified against the test CA.
    """
    head = MAILDIR_CONFIG.read_text(encoding="utf-8").split("[inboxes.support]")[0]
    parts = [head.rstrip().rsplit("# ----", 1)[0]]
    for name, user in users.items():
        tls = name == "support"
        parts.append(
            f'[inboxes.{name}]\nkind = "imap"\nhost = "{dovecot.host}"\n'
            f'port = {dovecot.imaps_port if tls else dovecot.imap_port}\n'
            f'security = "{"tls" if tls else "starttls"}"\nca_file = "{dovecot.ca_file}"\n'
            f'username = "{user.name}"\npassword_file = "{dovecot.password_file(user)}"\n'
            f'team = "{"sales" if name == "sales" else "support"}"\ntimeout = 5\npoll_interval = 30\n'
        )
    parts.append(f'[delivery]\nkind = "smtp"\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
                 f'sender = "triage@example.com"\ntimeout = 5\n')
    parts.append('[alerts]\ncleanup_address = "portal-cleanup@example.com"\n'
                 'own_portals = ["pr-gateway.de", "prnews-portal.de", "firmen-pressedienst.de"]\n')
    values = {"ledger": str(state / "ledger.sqlite3"), **daemon}
    parts.append("[daemon]\n" + "".join(f"{key} = {value!r}\n".replace("'", '"') for key, value in values.items()))
    return "\n".join(parts)
