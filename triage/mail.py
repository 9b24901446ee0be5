"""The parsed mail: triage's own frozen value that everything after parsing works on."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attachment:
    """One attachment as the sender named and typed it, with image facts if it is an image."""

    filename: str
    content_type: str
    size: int
    image_format: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Mail:
    """A parsed e-mail.

    ``body`` is the whole readable text (HTML-only mail already turned into
    text). ``new_text`` is what the writer wrote this time, without quoted
    history, signature and disclaimer; ``forwarded_text`` is content the
    writer forwarded below a note; ``quoted_text`` is earlier conversation.
    """

    subject: str = ""
    from_addr: str = ""
    from_name: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    date: str = ""
    message_id: str = ""
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "text/plain"
    body: str = ""
    html: str = ""
    new_text: str = ""
    forwarded_text: str = ""
    quoted_text: str = ""
    attachments: tuple[Attachment, ...] = ()
    size: int = 0
    defects: tuple[str, ...] = field(default=())

    def header(self, name: str) -> str:
        """The first value of header ``name`` (case-insensitive), or ``""``."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return ""

    def has_header(self, name: str) -> bool:
        wanted = name.lower()
        return any(key == wanted for key, _ in self.headers)
