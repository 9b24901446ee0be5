"""Separate what a writer wrote this time from quoted history, forwards, signature and disclaimer.

Pure functions over plain text. The markers cover the shapes real clients
produce in German and English: ``> `` quoting, "Am … schrieb …:", "On …
wrote:", Outlook's "-----Original Message-----" and "Von:/Gesendet:/An:"
blocks, forwarded-message separators, ``-- `` signatures, closing phrases,
"Sent from my iPhone" lines and legal disclaimers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FORWARD = re.compile(
    r"^\s*(?:-{2,}\s*(?:forwarded message|weitergeleitete nachricht|weitergeleitete e-mail|message transféré)\s*-{2,}"
    r"|begin forwarded message:|anfang der weitergeleiteten (?:nachricht|e-mail):)",
    re.I,
)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:original message|ursprüngliche nachricht|originalnachricht|message d'origine|mensaje original)\s*-{2,}",
    re.I,
)
_ATTRIBUTION = re.compile(
    r"^\s*(?:am|on|le|el|il|op|w dniu|den)\s.{0,240}?"
    r"(?:schrieb|wrote|a écrit|escribió|ha scritto|schreef|napisał|skrev)(?:\s+.{0,80})?:\s*$",
    re.I,
)
_ATTRIBUTION_START = re.compile(r"^\s*(?:am|on|le|el|il|op|w dniu|den)\s", re.I)
_HEADER_FROM = re.compile(r"^\s*\*?(?:von|from|de|absender)\s*:\*?\s*\S", re.I)
_HEADER_OTHER = re.compile(
    r"^\s*\*?(?:gesendet|sent|datum|date|envoyé|an|to|betreff|subject|objet|cc)\s*:", re.I
)
_UNDERSCORE_RULE = re.compile(r"^\s*_{8,}\s*$")
# A cheap first look: only lines that start like one of the markers get the full checks.
_CANDIDATE = re.compile(
    r"^\s*(?:-{2}|>|_{8}|begin|anfang|am\s|on\s|le\s|el\s|il\s|op\s|w\s|den\s|\*?(?:von|from|de|absender)\s*:)",
    re.I,
)
_SIG_DELIMITER = re.compile(r"^--\s*$")
_MOBILE = re.compile(
    r"^\s*(?:von meinem .{0,40}gesendet|gesendet von meinem|sent from my|sent from (?:mail|outlook)|"
    r"get outlook for|envoyé de mon|enviado desde mi|verstuurd vanaf mijn|diese nachricht wurde von meinem)",
    re.I,
)
_CLOSING = re.compile(
    r"^\s*(?:mit (?:den )?(?:besten |freundlichen |herzlichen |sonnigen |vielen )?gr(?:ü|ue|u)(?:ß|ss|s)(?:en)?"
    r"|(?:viele|beste|liebe|herzliche|freundliche|schöne|sonnige|vielen dank und viele|danke und) gr(?:ü|ue|u)(?:ß|ss|s)e?"
    r"|mfg|lg|vg|bg|gruß|gruss|grüße|gruesse|grüezi mitenand|merci vielmal|servus|tschüss|ciao"
    r"|(?:best|kind|warm|many thanks and|thanks and|with kind|kindest|warmest)?\s*regards"
    r"|best(?: wishes)?|cheers|sincerely|yours sincerely|yours faithfully|yours truly|all the best|thanks|thank you|many thanks|thx"
    r"|danke(?: schön| sehr| im voraus| vorab)?|vielen dank(?: im voraus| vorab)?|besten dank|herzlichen dank"
    r"|cordialement|saludos|un saludo|met vriendelijke groet|pozdrawiam)"
    r"(?:,?\s+(?-i:[A-ZÄÖÜ][\w.-]*)(?:\s+(?-i:[A-ZÄÖÜ][\w.-]*))?)?[\s,.!]*$",
    re.I,
)
_DISCLAIMER = re.compile(
    r"vertraulich|confidential|intended (?:solely )?(?:only )?for the|intended recipient|"
    r"irrtümlich|irrtuemlich|unbefugte|unauthori[sz]ed|diese e-mail (?:enthält|kann)|this (?:e-?mail|message) (?:and any|may contain|contains)|"
    r"geschäftsführ|geschaeftsfuehr|amtsgericht|registergericht|handelsregister|\bhrb\s?\d|ust-?id|umsatzsteuer-id|"
    r"sitz der gesellschaft|registered office|company registration|vat (?:no|reg|id)|please consider the environment|"
    r"bitte denken sie an die umwelt|datenschutzerklärung|privacy policy",
    re.I,
)


# Plain substrings of which every disclaimer match contains at least one: a fast first look.
_DISCLAIMER_MARKS = (
    "vertraulich", "confidential", "intended", "irrt", "unbefugt", "unauthori", "diese e-mail", "this e-mail",
    "this email", "this message", "geschäftsf", "geschaeftsf", "gericht", "handelsregister", "hrb", "ust-", "ustid",
    "umsatzsteuer", "sitz der", "registered office", "company registration", "vat ", "environment", "umwelt",
    "datenschutz", "privacy",
)


@dataclass(frozen=True)
class ReplyParts:
    """The three parts of a mail body; ``new_text`` is what classification looks at first."""

    new_text: str
    quoted_text: str = ""
    forwarded_text: str = ""


def split_reply(body: str, subject: str = "") -> ReplyParts:
    """Split ``body`` into the new text, quoted history and forwarded content."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    is_forward = bool(re.match(r"^\s*(?:fwd?|wg|wtr|tr|fw)\s*:", subject, re.I))
    cut, kind = _find_cut(lines, is_forward)
    head, tail = lines[:cut], lines[cut:]
    quoted_inline = [line for line in head if line.lstrip().startswith(">")]
    head = [line for line in head if not line.lstrip().startswith(">")]
    new_text = strip_signature("\n".join(head))
    tail_text = "\n".join(tail).strip()
    quoted = "\n".join(quoted_inline).strip()
    if kind == "forward":
        return ReplyParts(new_text, quoted, strip_disclaimers(_unquote(tail_text)))
    return ReplyParts(new_text, "\n".join(filter(None, [quoted, tail_text])))


def _find_cut(lines: list[str], is_forward: bool) -> tuple[int, str]:
    """Index of the first line of quoted or forwarded content, and which it is."""
    quoted_after = _quoted_share_after(lines)
    for i, line in enumerate(lines):
        if not _CANDIDATE.match(line):
            continue
        if _FORWARD.match(line):
            return i, "forward"
        if _ORIGINAL.match(line):
            return i, "forward" if is_forward else "quote"
        if line.lstrip().startswith(">"):
            if quoted_after[i]:
                return i, "quote"
            continue
        if _ATTRIBUTION.match(line):
            return i, "quote"
        if _ATTRIBUTION_START.match(line) and i + 1 < len(lines) and len(line) < 200:
            joined = line.rstrip() + " " + lines[i + 1].strip()
            if not line.rstrip().endswith(":") and _ATTRIBUTION.match(joined):
                return i, "quote"
        if _HEADER_FROM.match(line) and _is_header_block(lines, i):
            start = i - 1 if i > 0 and _UNDERSCORE_RULE.match(lines[i - 1]) else i
            return start, "forward" if is_forward else "quote"
    return len(lines), "none"


def _quoted_share_after(lines: list[str]) -> list[bool]:
    """For each line: are at least 80 % of the non-empty lines from here on quoted (one pass, from the end)?"""
    flags = [False] * len(lines)
    content = quoted = 0
    for i in range(len(lines) - 1, -1, -1):
        stripped = lines[i].strip()
        if stripped:
            content += 1
            quoted += stripped.startswith(">")
        flags[i] = content > 0 and quoted >= 0.8 * content
    return flags


def _is_header_block(lines: list[str], i: int) -> bool:
    following = [line for line in lines[i + 1 : i + 6] if line.strip()]
    return sum(1 for line in following[:4] if _HEADER_OTHER.match(line)) >= 2


def _unquote(text: str) -> str:
    return "\n".join(re.sub(r"^\s*(?:>\s?)+", "", line) for line in text.split("\n"))


def strip_signature(text: str) -> str:
    """Drop the signature, mobile footers and disclaimers from the new text."""
    lines = text.split("\n")
    kept: list[str] = []
    seen = 0
    for line in lines:
        if _SIG_DELIMITER.match(line):
            break
        if _MOBILE.match(line):
            continue
        if _CLOSING.match(line) and seen >= 20:
            break
        kept.append(line)
        seen += len(line.strip())
    return strip_disclaimers("\n".join(kept)).strip()


def strip_disclaimers(text: str) -> str:
    """Drop legal disclaimers and company registration footers.

    A paragraph goes when it has two disclaimer marks, or one while it trails
    the text; a customer's own sentence that mentions "vertraulich" once
    in the middle of the mail stays.
    """
    lower = text.lower()
    if not any(mark in lower for mark in _DISCLAIMER_MARKS) or not _DISCLAIMER.search(text):
        return text.strip()
    paragraphs = [(p, len(_DISCLAIMER.findall(p))) for p in re.split(r"\n\s*\n", text)]
    kept = [(p, marks) for p, marks in paragraphs if marks < 2]
    while len(kept) > 1 and kept[-1][1]:
        kept.pop()
    return "\n\n".join(p for p, _ in kept).strip()
