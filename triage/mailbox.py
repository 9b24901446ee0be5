"""What the daemon needs from an inbox, whatever stores it: IMAP (`triage.imap`) or Maildir (`triage.maildir`).

A `MessageRef` names one message for the ledger: inbox, UIDVALIDITY, UID
(Maildir: validity 0 and the file's unique key) and Message-ID.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Protocol

TRIAGED_KEYWORD = "$Triaged"
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def header_values(raw: bytes, header: str) -> list[str]:
    """Every value of ``header`` in a message's header section, unfolded (for the adapters)."""
    message = BytesHeaderParser(policy=compat32).parsebytes(raw)
    return [" ".join(str(value).split()) for value in message.get_all(header, [])]


def message_id_of(raw: bytes) -> str:
    """The first ``<id>`` of the Message-ID header (as `triage.parsing` reads it), else the raw value."""
    values = header_values(raw, "Message-ID")
    if not values:
        return ""
    match = _MESSAGE_ID.search(values[0])
    return match.group(0) if match else values[0].strip()


@dataclass(frozen=True)
class MessageRef:
    inbox: str
    uidvalidity: int
    uid: str
    size: int
    message_id: str = ""


class Mailbox(Protocol):
    """One watched inbox. Every method may raise `triage.errors.MailboxError`."""

    name: str

    def connect(self) -> None:
        """Open (or reopen) the connection and select the inbox folder."""

    def close(self) -> None:
        """Close quietly; safe to call twice."""

    def uidvalidity(self) -> int:
        """The folder's current UIDVALIDITY (Maildir: 0)."""

    def untriaged(self) -> list[MessageRef]:
        """Messages without the `TRIAGED_KEYWORD`, oldest first."""

    def fetch(self, ref: MessageRef, limit: int | None = None) -> bytes:
        """The raw message (without setting \\Seen); at most ``limit`` bytes if given."""

    def mark(self, ref: MessageRef, keywords: list[str], flagged: bool = False) -> None:
        """Add keywords (and \\Flagged) to the message."""

    def move(self, ref: MessageRef, folder: str) -> None:
        """Move the message to ``folder``, creating the folder if needed."""

    def append(self, folder: str, raw: bytes, flags: list[str]) -> None:
        """Store a message (e.g. a draft with \\Draft) in ``folder``, creating it if needed."""

    def contains(self, folder: str, header: str, value: str) -> bool:
        """Whether ``folder`` holds a message whose ``header`` equals ``value`` (for idempotent appends)."""

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for new mail (IDLE or polling); True if something may have arrived."""

    def interrupt(self) -> None:
        """Make a `wait` in progress, or the next one, return False at once (called from another thread)."""
