"""Raw message bytes into a `Mail`: the only module that uses mail-parser.

Handles any charset (including a windows-1252 body declared as
iso-8859-1), quoted-printable, base64, CRLF, format=flowed and HTML-only
mail, and reads image dimensions from attachments.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from email.header import decode_header, make_header
from email.message import Message

import mailparser
from mailparser.exceptions import MailParserError

from triage.errors import ParseError
from triage.html_text import html_to_text
from triage.images import image_info
from triage.mail import Attachment, Mail
from triage.reply_text import split_reply

# mail-parser logs every part type it does not turn into text (e.g. a DSN's
# text/rfc822-headers) as a warning; those parts are not ours to read.
logging.getLogger("mailparser").setLevel(logging.ERROR)

# U+0080..U+009F appear when windows-1252 bytes were decoded as iso-8859-1.
_C1_TO_CP1252 = {
    code: bytes([code]).decode("cp1252", errors="ignore") or None for code in range(0x80, 0xA0)
}


def parse_mail(raw: bytes) -> Mail:
    """Parse raw RFC 5322 bytes into a `Mail`; raise `ParseError` if it is no mail at all."""
    if not raw or not raw.strip():
        raise ParseError("empty message")
    try:
        parsed = mailparser.parse_from_bytes(raw)
    except (MailParserError, RecursionError, ValueError, LookupError) as exc:
        raise ParseError(f"cannot parse message: {exc}") from exc
    message: Message = parsed.message
    if message is None or not message.keys():
        raise ParseError("no mail headers found")

    headers = tuple((name.lower(), _header_text(value)) for name, value in message.items())
    subject = _clean_header(parsed.subject or "")
    plain = _plain_body(parsed, message)
    html = "\n".join(parsed.text_html)
    body = plain if plain.strip() else html_to_text(html)
    parts = split_reply(body, subject)
    from_pairs = parsed.from_ or []
    from_name, from_addr = from_pairs[0] if from_pairs else ("", "")
    return Mail(
        subject=subject,
        from_addr=from_addr.lower(),
        from_name=_clean_header(from_name),
        to=tuple(addr.lower() for _, addr in (parsed.to or []) if addr),
        cc=tuple(addr.lower() for _, addr in (parsed.cc or []) if addr),
        date=parsed.date.isoformat() if parsed.date else "",
        message_id=_first_id(message.get("Message-ID", "")),
        in_reply_to=_first_id(message.get("In-Reply-To", "")),
        references=tuple(re.findall(r"<[^<>\s]+>", str(message.get("References", "")))),
        headers=headers,
        content_type=message.get_content_type(),
        body=body,
        html=html,
        new_text=parts.new_text,
        forwarded_text=parts.forwarded_text,
        quoted_text=parts.quoted_text,
        attachments=tuple(_attachment(a) for a in parsed.attachments),
        size=len(raw),
        defects=tuple(sorted(parsed.defects_categories)),
    )


def _plain_body(parsed: mailparser.MailParser, message: Message) -> str:
    texts = []
    flowed = _flowed_params(message)
    for text in parsed.text_plain:
        text = text.replace("\r\n", "\n").translate(_C1_TO_CP1252)
        if flowed is not None:
            text = unflow(text, delsp=flowed)
        texts.append(text)
    return "\n".join(texts)


def _flowed_params(message: Message) -> bool | None:
    """None if the first text/plain part is not format=flowed, else its DelSp flag."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            if str(part.get_param("format", "")).lower() != "flowed":
                return None
            return str(part.get_param("delsp", "no")).lower() == "yes"
    return None


def unflow(text: str, delsp: bool = False) -> str:
    """Undo RFC 3676 format=flowed: join soft-broken lines (those ending in a space)."""
    out: list[str] = []
    buffer = ""
    for line in text.split("\n"):
        if line.startswith(" "):
            line = line[1:]  # space-stuffing
        if line.endswith(" ") and line != "-- ":
            buffer += line[:-1] if delsp else line
            continue
        out.append(buffer + line)
        buffer = ""
    if buffer:
        out.append(buffer)
    return "\n".join(out)


def _attachment(item: dict) -> Attachment:
    """Name, type and size of an attachment; for images also format and pixel dimensions.

    Only the first 64 KiB are decoded (image headers sit at the start); the
    size comes from the base64 length, so a large attachment costs little.
    """
    payload = item.get("payload") or ""
    if item.get("binary"):
        encoded = len(payload) - sum(payload.count(c) for c in "\r\n\t ")
        size = encoded * 3 // 4 - payload.rstrip()[-2:].count("=")
        head_b64 = "".join(payload[:100_000].split())[: 65536 // 3 * 4]
        try:
            head = base64.b64decode(head_b64)
        except (binascii.Error, ValueError):
            head = b""
    else:
        data = payload.encode("utf-8", errors="replace")
        size, head = len(data), data[:65536]
    info = image_info(head)
    return Attachment(
        filename=_clean_header(str(item.get("filename") or "")),
        content_type=str(item.get("mail_content_type") or "application/octet-stream"),
        size=size,
        image_format=info[0] if info else None,
        width=info[1] if info else None,
        height=info[2] if info else None,
    )


def _header_text(value: object) -> str:
    text = str(value)
    if "=?" in text:
        try:
            text = str(make_header(decode_header(text)))
        except (ValueError, LookupError, UnicodeError):
            pass
    return _clean_header(text)


def _clean_header(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\r", " ").replace("\n", " ")).strip()


def _first_id(value: object) -> str:
    match = re.search(r"<[^<>\s]+>", str(value or ""))
    return match.group(0) if match else str(value or "").strip()
