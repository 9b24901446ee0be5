"""Pure builders of the messages triage sends: the forward to an owner group and the portal clean-up alert.

Both are ``multipart/mixed``: a plain-text part on top (the triage summary and
the draft reply, or the URLs to take down) and the original message attached
whole as ``message/rfc822``, byte for byte as received. Both carry
``X-Triage-Loop: yes`` (so triage never triages its own mail) and
``Auto-Submitted: auto-generated``, and a Message-ID derived from (inbox,
UIDVALIDITY, UID, action), so the same action always yields the same ID.

Customer text only ever enters headers through `one_line`, so no header can be
injected; the stdlib ``email`` package encodes non-ASCII header text.
"""

from __future__ import annotations

import hashlib
import re
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import formatdate

from triage.automated import LOOP_HEADER
from triage.config import UNSORTED, Alerts
from triage.decision import Decision
from triage.mail import Mail
from triage.urls import on_domains

SUBJECT_LIMIT = 160  # characters of the original subject kept in our subjects
DETAIL_LABELS = {
    "os": "operating system with version",
    "browser": "browser with version",
    "connection": "internet connection (LAN, Wi-Fi, mobile)",
    "steps": "exactly what they did, step by step",
    "image": "the image: format, file size, pixel dimensions, program",
    "reachability": "when and how to reach them",
    "urgency": "urgency (show-stopper / limited usability / nice to have)",
}
_RULE = "-" * 72


def one_line(value: str, limit: int | None = None) -> str:
    """``value`` as a single header-safe line: line breaks and other control characters become spaces."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", value or "")
    text = re.sub(r" {2,}", " ", text).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def action_message_id(inbox: str, uidvalidity: int, uid: str, action: str, address: str = "") -> str:
    """The deterministic Message-ID of one action on one mail, in the domain of ``address``."""
    key = "\0".join((inbox, str(uidvalidity), str(uid), action)).encode("utf-8")
    digest = hashlib.sha256(key).hexdigest()[:32]
    domain = address.rpartition("@")[2].strip().strip(">").lower() if "@" in address else ""
    if not re.fullmatch(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+", domain):
        domain = "triage.invalid"
    return f"<triage.{action}.{digest}@{domain}>"


def with_message_id(raw: bytes, message_id: str) -> bytes:
    """``raw`` with its Message-ID header set to ``message_id`` (replaced, or added first); the rest untouched."""
    message_id = one_line(message_id)
    match = re.search(rb"\r?\n\r?\n", raw)
    head, rest = (raw[: match.start()], raw[match.start():]) if match else (raw, b"")
    eol = b"\r\n" if b"\r\n" in head else b"\n"
    line = b"Message-ID: " + message_id.encode("ascii")
    pattern = re.compile(rb"^message-id:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*", re.I | re.M)
    if pattern.search(head):
        head = pattern.sub(lambda _m: line, head, count=1)
    else:
        head = line + eol + head
    return head + rest


def forward_message(raw_original: bytes, mail: Mail, decision: Decision, inbox_name: str, similar_count: int | None,
                    sender: str, *, uidvalidity: int, uid: str, similar_days: int = 30,
                    date: str | None = None) -> bytes:
    """The forward of one mail to ``decision.group_address``: summary and draft on top, the original attached."""
    if not decision.group_address:
        raise ValueError("the decision names no group address to forward to")
    subject = f"[triage] {decision.topic} | {one_line(mail.subject, SUBJECT_LIMIT) or '(no subject)'}"
    headers = _headers(sender, decision.group_address, subject,
                       action_message_id(inbox_name, uidvalidity, uid, "forward", sender), date)
    headers["X-Triage-Topic"] = one_line(decision.topic)
    headers["X-Triage-Inbox"] = one_line(inbox_name)
    return _assemble(headers, summary_text(mail, decision, inbox_name, uid, similar_count, similar_days),
                     raw_original)


def alert_message(raw_original: bytes, mail: Mail, decision: Decision, inbox_name: str, alerts: Alerts, sender: str,
                  *, uidvalidity: int, uid: str, date: str | None = None) -> bytes:
    """The urgent portal clean-up alert for a deletion request that cites a legal warning."""
    subject = f"[triage] URGENT legal warning: take down now | {one_line(mail.subject, SUBJECT_LIMIT) or '(no subject)'}"
    headers = _headers(sender, alerts.cleanup_address, subject,
                       action_message_id(inbox_name, uidvalidity, uid, "alert", sender), date)
    headers["Importance"] = "high"
    headers["Priority"] = "urgent"
    headers["X-Priority"] = "1 (Highest)"
    headers["X-Triage-Inbox"] = one_line(inbox_name)
    return _assemble(headers, alert_text(mail, decision, inbox_name, uid, alerts), raw_original)


def summary_text(mail: Mail, decision: Decision, inbox_name: str, uid: str, similar_count: int | None,
                 similar_days: int = 30) -> str:
    """The plain-text triage summary and draft that sit on top of a forward."""
    rows: list[tuple[str, str]] = [
        ("From", _who(mail)),
        ("Date", mail.date or "?"),
        ("Subject", mail.subject or "(no subject)"),
        ("Inbox", f"{inbox_name} (uid {uid})"),
        ("Topic", f"{decision.topic} (confidence {decision.confidence:.0%})"),
        ("Owner group", f"{decision.group or '?'} <{decision.group_address or '?'}>"),
        ("Language", decision.language),
        ("Product", decision.product),
        ("Technical problem", "yes" if decision.technical_problem else "no"),
    ]
    if decision.technical_problem and similar_count is not None:
        rows.append(("Similar reports", f"{similar_count} other technical problem{'s' if similar_count != 1 else ''} "
                                        f"on {decision.topic} / {decision.product} in the last {similar_days} days"))
    if decision.technical_problem:
        missing = "; ".join(DETAIL_LABELS.get(key, key) for key in decision.missing_details)
        rows.append(("Missing details", missing or "none: ready to escalate"))
    rows.append(("Legal warning", "YES: releases on our own portals must come down at once "
                                  "(a clean-up alert was raised)" if decision.legal_warning else "no"))
    if decision.topic == UNSORTED and decision.guesses:
        rows.append(("Best guesses", ", ".join(f"{topic} {p:.0%}" for topic, p in decision.guesses[:3])))
    width = max(len(label) for label, _ in rows) + 2
    lines = [f"Triage summary for the {decision.group or 'owner'} group", ""]
    lines += [f"{label + ':':<{width}}{one_line(value)}" for label, value in rows]
    lines.append(f"{'URLs:':<{width}}{'none' if not decision.urls else ''}".rstrip())
    lines += [f"  {url}" for url in decision.urls]
    lines.append("")
    if decision.draft:
        lines += [f"Draft reply ({decision.draft_kind or 'reply'}; saved in the Drafts folder of inbox "
                  f"{inbox_name}, not sent):", _RULE, decision.draft.rstrip("\n"), _RULE]
    else:
        lines.append("No draft reply was written for this mail.")
    lines += ["", "The original message is attached unchanged.", ""]
    return "\n".join(lines)


def alert_text(mail: Mail, decision: Decision, inbox_name: str, uid: str, alerts: Alerts) -> str:
    """The clean-up alert's text: URLs on our own portals first, every other URL after."""
    own = [url for url in decision.urls if on_domains(url, alerts.own_portals)]
    other = [url for url in decision.urls if url not in own]
    lines = [
        "URGENT: a deletion request cites a legal warning (e.g. an Abmahnung or cease and desist).",
        "Take the affected releases down on our own portals now, without waiting for office hours or prepayment.",
        "",
        f"URLs on our own portals ({', '.join(alerts.own_portals)}):",
    ]
    lines += [f"  {url}" for url in own] or ["  none named in the mail: find the release by its title or sender; "
                                             "the draft reply asks the customer for every affected URL"]
    lines += ["", "Other URLs named in the mail:"]
    lines += [f"  {url}" for url in other] or ["  none"]
    lines += [
        "",
        f"From:       {one_line(_who(mail))}",
        f"Subject:    {one_line(mail.subject) or '(no subject)'}",
        f"Date:       {one_line(mail.date) or '?'}",
        f"Message-ID: {one_line(mail.message_id) or '?'}",
        f"Inbox:      {inbox_name} (uid {uid}); forwarded to {decision.group or '?'} <{decision.group_address or '?'}>",
        "",
        "The original message is attached unchanged.",
        "",
    ]
    return "\n".join(lines)


def _who(mail: Mail) -> str:
    if mail.from_name and mail.from_addr:
        return f"{mail.from_name} <{mail.from_addr}>"
    return mail.from_addr or mail.from_name or "?"


def _headers(sender: str, to: str, subject: str, message_id: str, date: str | None) -> EmailMessage:
    headers = EmailMessage(policy=SMTP)
    headers["From"] = one_line(sender)
    headers["To"] = one_line(to)
    headers["Subject"] = one_line(subject)
    headers["Date"] = one_line(date) if date else formatdate(localtime=True)
    headers["Message-ID"] = message_id
    headers[LOOP_HEADER] = "yes"
    headers["Auto-Submitted"] = "auto-generated"
    return headers


def _assemble(headers: EmailMessage, text: str, raw_original: bytes) -> bytes:
    """Headers + a multipart/mixed body: the text part, then ``raw_original`` verbatim as message/rfc822."""
    part = MIMEPart(policy=SMTP)
    part.set_content(text, charset="utf-8", cte="quoted-printable")
    text_part = part.as_bytes()
    boundary = _boundary(raw_original, text_part)
    headers["MIME-Version"] = "1.0"
    headers["Content-Type"] = f'multipart/mixed; boundary="{boundary}"'
    encoding = _transfer_encoding(raw_original)
    if encoding != b"7bit":
        headers["Content-Transfer-Encoding"] = encoding.decode("ascii")
    head = b"".join(_fold(name, value) for name, value in headers.items())
    delimiter = b"--" + boundary.encode("ascii")
    attached = (
        b"Content-Type: message/rfc822\r\n"
        b'Content-Disposition: attachment; filename="original.eml"\r\n'
        b"Content-Transfer-Encoding: " + encoding + b"\r\n\r\n"
    )
    return b"".join((
        head, b"\r\n",
        b"This is a multi-part message in MIME format.\r\n",
        delimiter, b"\r\n", text_part, b"\r\n",
        delimiter, b"\r\n", attached, raw_original, b"\r\n",
        delimiter, b"--\r\n",
    ))


def _fold(name: str, value: str) -> bytes:
    """One header folded for SMTP, without the stdlib's habit of breaking right after the colon
    (``Subject:\r\n [triage] …``), which some readers keep as a leading space."""
    folded = SMTP.fold_binary(name, value)
    start = name.encode("ascii") + b":\r\n "
    if folded.startswith(start):
        folded = name.encode("ascii") + b": " + folded[len(start):]
    return folded


def _boundary(*contents: bytes) -> str:
    digest = hashlib.sha256(b"".join(contents)).hexdigest()
    for n in range(100):
        boundary = f"=_triage_{digest[n % 40: n % 40 + 24]}{n}"
        if not any(b"--" + boundary.encode("ascii") in content for content in contents):
            return boundary
    raise ValueError("cannot find a MIME boundary that does not occur in the message")


def _transfer_encoding(raw: bytes) -> bytes:
    """What the attached message needs on the wire: 7bit, 8bit, or binary (NUL bytes or lines over 998)."""
    if b"\0" in raw or any(len(line) > 998 for line in raw.splitlines()):
        return b"binary"
    return b"7bit" if raw.isascii() else b"8bit"
