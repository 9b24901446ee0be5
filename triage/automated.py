"""Recognise automated mail: auto-replies, bounces, mailing lists and triage's own loop.

Pure function over a `Mail`. Headers decide first (RFC 3834
Auto-Submitted, X-Autoreply, Precedence, List-*, null Return-Path,
MAILER-DAEMON, multipart/report); out-of-office replies that carry no such
header are recognised by their subject or by two independent signals in a
short body. ``X-Auto-Response-Suppress`` alone is not an auto-reply.
"""

from __future__ import annotations

import re

from triage.mail import Mail

LOOP_HEADER = "X-Triage-Loop"

_BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.I)
_OOO_SUBJECT = re.compile(
    r"abwesenheits(?:notiz|meldung)|out of (?:the )?office|automatische antwort|automatic reply|auto[- ]?reply|"
    r"autoresponse|auto-response|automatische rückantwort|urlaubsnotiz|abwesend\b|réponse automatique|"
    r"afwezigheidsbericht|away from (?:the )?office|on (?:annual )?leave|respuesta automática|risposta automatica|"
    r"automatic response|vacation reply|bin nicht im büro|nicht im büro|office closed|büro geschlossen",
    re.I,
)
_OOO_BODY = re.compile(
    r"(?:nicht im büro|nicht im buero|außer haus|ausser haus|abwesend|im urlaub|in urlaub|urlaubsbedingt|"
    r"out of (?:the )?office|away from (?:the )?office|on (?:annual |parental |sick )?leave|on vacation|on holiday|"
    r"nicht erreichbar|keinen zugriff auf (?:meine )?e-?mails|no access to (?:my )?e-?mail|limited access to (?:my )?e-?mail|"
    r"elternzeit|dienstreise|business trip|currently travel+ing|travel+ing with limited|sabbatical|"
    r"office is closed|closed for the holidays|(?:mailbox|inbox|address) is not monitored|not (?:being )?monitored|"
    r"nicht mehr (?:für|fuer) (?:unser|das) unternehmen tätig|nicht mehr (?:im|in unserem) unternehmen|no longer (?:with|works? (?:at|for))|"
    r"postfach wird nicht (?:mehr )?(?:gelesen|betreut|überwacht))",
    re.I,
)
_OOO_RETURN = re.compile(
    r"(?:wieder (?:im büro|erreichbar|da|zurück|für sie da)\b|ab dem .{0,30}wieder|bin ab .{0,30}wieder|zurück am|zurück ab|"
    r"(?:be )?back (?:in the office )?(?:on|from|by)|return(?:ing)? (?:to the office )?on|will respond (?:to your (?:e-?mail|message) )?(?:upon|when|after)|"
    r"in dringenden fällen|in dringenden faellen|for urgent (?:matters|requests|issues)|if your matter is urgent|"
    r"wird nicht weitergeleitet|will not be forwarded|wenden sie sich (?:bitte )?an|please contact|bitte kontaktieren sie|"
    r"for anything urgent|in urgent cases|(?:reply|respond|answer) when (?:we|i)(?:'re| are| am|'m) back|"
    r"please use our|bitte nutzen sie|bitte senden sie (?:ihre|die) (?:nachricht|e-mail|anfrage)|"
    r"please (?:send|forward|resend) your (?:message|e-?mail|request)|"
    r"until (?:\d|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|next)|bis (?:zum |einschließlich )?\d)",
    re.I,
)


# A reply that says of itself that a machine wrote it.
_SAYS_AUTOMATIC = re.compile(
    r"diese (?:nachricht|e-mail|antwort) wurde automatisch (?:erstellt|generiert|versendet|verschickt)|"
    r"this (?:is an|message is an|message was|e-?mail was|e-?mail is an) ?automat(?:ed|ic|ically)|"
    r"(?:automatische|automatisch erzeugte) (?:antwort|abwesenheitsnotiz)|auto(?:matic|mated)[- ]reply",
    re.I,
)

# Substrings every out-of-office body match contains one of: a fast first look.
_OOO_MARKS = ("büro", "buero", "haus", "abwesend", "urlaub", "office", "leave", "vacation", "holiday", "erreichbar",
              "zugriff", "access", "elternzeit", "dienstreise", "business trip", "travel", "sabbatical", "closed",
              "monitored", "tätig", "unternehmen", "no longer", "postfach")


def detect_automated(mail: Mail) -> str | None:
    """Why ``mail`` counts as automated (`auto-reply`, `bounce`, `list`, `loop`), or None."""
    if mail.has_header(LOOP_HEADER):
        return "loop"
    sender = mail.from_addr
    report_type = ""
    if mail.content_type == "multipart/report":
        report_type = "delivery-status"
    if _BOUNCE_SENDER.match(sender) or report_type:
        return "bounce"
    auto_submitted = mail.header("auto-submitted").lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return "auto-reply"
    if mail.has_header("x-autoreply") or mail.has_header("x-autorespond") or mail.has_header("x-autoresponder"):
        return "auto-reply"
    precedence = mail.header("precedence").lower()
    if precedence.startswith("auto"):
        return "auto-reply"
    if precedence in ("bulk", "junk", "list"):
        return "list"
    if mail.has_header("list-id") or mail.has_header("list-unsubscribe"):
        return "list"
    if is_out_of_office(mail.subject, mail.new_text or mail.body):
        return "auto-reply"
    if mail.header("return-path").strip() == "<>":
        return "bounce"
    return None


def is_out_of_office(subject: str, text: str) -> bool:
    """An out-of-office reply recognised by its words alone."""
    if _OOO_SUBJECT.search(subject) or _SAYS_AUTOMATIC.search(text[:300]):
        return True
    if len(text) >= 1500:
        return False
    head = text[:800]
    lower = head.lower()
    if not any(mark in lower for mark in _OOO_MARKS):
        return False
    return bool(_OOO_BODY.search(head)) and bool(_OOO_RETURN.search(head))
