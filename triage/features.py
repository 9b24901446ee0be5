"""The text a classifier sees for a mail: subject and new text first, forwarded content after.

Quoted history, signatures and disclaimers are already gone (see
`triage.reply_text`). Umlauts and ß are folded (ä→ae, ß→ss) so that
"Loeschung", "Löschung" and Swiss "Strasse" meet, and URLs keep only their
host words.
"""

from __future__ import annotations

import re

from triage.mail import Mail

# The topic shows early; longer texts cost time and add noise (measured by cross-validation).
FORWARDED_CHARS = 1000
NEW_TEXT_CHARS = 1500
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "à": "a"})
_URL = re.compile(r"(?i)\b(?:https?://)?(?:www\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,})(/\S*)?")
_SUBJECT_PREFIX = re.compile(r"^(?:\s*(?:re|aw|wg|fwd?|fw|wtr|antw|sv|tr)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def classification_text(mail: Mail) -> str:
    """Subject, new text, attachment names and the start of forwarded content, normalised."""
    subject = _SUBJECT_PREFIX.sub("", mail.subject)
    parts = [subject, subject, mail.new_text[:NEW_TEXT_CHARS]]
    if mail.forwarded_text:
        parts.append(mail.forwarded_text[:FORWARDED_CHARS])
    if not mail.new_text.strip() and not mail.forwarded_text:
        # Nothing new above the quote (e.g. a bare forward): the history is all there is.
        parts.append(mail.quoted_text[:FORWARDED_CHARS])
    parts.extend(a.filename for a in mail.attachments)
    return normalise("\n".join(p for p in parts if p))


def normalise(text: str) -> str:
    text = text.lower().translate(_FOLD)
    text = _URL.sub(lambda m: " " + m.group(1).replace(".", " ") + " ", text)
    return re.sub(r"\s+", " ", text).strip()
