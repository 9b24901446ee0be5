"""Draft replies: jinja2 templates in ``templates/``, one per case and language.

Customer text only ever enters a template as data, never as template
source, so ``{{ … }}`` in a mail stays literal; drafts are plain text, so
nothing needs HTML escaping. `draft_message` wraps a draft into a proper
reply (``Re:`` once, ``In-Reply-To``/``References``, the team's address,
the customer's text quoted below); header values are cleaned of line
breaks so no header can be injected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from triage.config import Config
from triage.mail import Attachment, Mail

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

QUESTIONS = {
    "de": {
        "os": "Welches Betriebssystem nutzen Sie, mit Version (zum Beispiel Windows 11 oder macOS 14)? Unter Windows finden Sie "
              "die Version, wenn Sie im Windows Explorer mit der rechten Maustaste auf „Dieser PC“ (früher „Computer“ oder "
              "„Arbeitsplatz“) klicken und „Eigenschaften“ wählen; auf dem Mac im Apple-Menü unter „Über diesen Mac“.",
        "browser": "Mit welchem Browser und welcher Browserversion arbeiten Sie? Die Version sehen Sie, wenn Sie im Browser die "
                   "ALT-Taste drücken und dann „Hilfe“ (oder das Fragezeichen) und „Über …“ wählen.",
        "connection": "Wie sind Sie mit dem Internet verbunden: per Kabel (LAN), per WLAN oder mobil (zum Beispiel LTE)?",
        "steps": "Was haben Sie genau getan, Schritt für Schritt, bis der Fehler auftrat? Und was sehen Sie in diesem Moment auf "
                 "dem Bildschirm (gern auch als Screenshot)?",
        "image": "Zum Bild: Welches Dateiformat, welche Dateigröße und welche Abmessungen in Pixeln hat es, und mit welchem Programm "
                 "wurde es erstellt? Sie finden die Angaben im Explorer mit der rechten Maustaste auf die Datei unter "
                 "„Eigenschaften“, Register „Details“ bzw. „Erweitert“.",
        "reachability": "Wann und wie können wir Sie für Rückfragen erreichen (Telefonnummer und Uhrzeit)?",
        "urgency": "Wie dringend ist das Problem aus Ihrer Sicht: SHOW-STOPPER (Sie können nicht weiterarbeiten), "
                   "LIMITED USABILITY (eingeschränkt nutzbar) oder NICE TO HAVE (kann warten)?",
    },
    "en": {
        "os": "Which operating system do you use, with its version (for example Windows 11 or macOS 14)? On Windows, right-click "
              "\"This PC\" (formerly \"Computer\") in Windows Explorer and choose \"Properties\"; on a Mac, open \"About This Mac\" "
              "in the Apple menu.",
        "browser": "Which browser and which browser version do you use? You can see the version if you press the ALT key in the "
                   "browser and choose \"Help\" (or the question mark) and then \"About\".",
        "connection": "How are you connected to the internet: by cable (LAN), by Wi-Fi, or mobile (for example 4G/LTE)?",
        "steps": "What exactly did you do, step by step, until the error appeared? And what do you see on the screen at that "
                 "moment (a screenshot is welcome)?",
        "image": "About the image: what file format, file size and pixel dimensions does it have, and which program created it? "
                 "You will find this in Explorer by right-clicking the file, \"Properties\", tab \"Details\".",
        "reachability": "When and how can we reach you for questions (phone number and time)?",
        "urgency": "How urgent is the problem from your point of view: SHOW-STOPPER (you cannot continue working), "
                   "LIMITED USABILITY (you can work with restrictions) or NICE TO HAVE (it can wait)?",
    },
}
WORK = {
    "prgateway": ("Ihre Pressemitteilung", "your press release"),
    "blog2social": ("Ihren Beitrag", "your post"),
    "influma": ("Ihre Eingaben", "your entries"),
    "unknown": ("Ihre Pressemitteilung bzw. Ihre Eingaben", "your press release or other entries"),
}
# Sender names that belong to an organisation or a role, not a person: greet neutrally.
_ORGANISATION = re.compile(
    r"\b(?:gmbh|ag|ug|ltd|llc|inc|kg|ohg|e\.?v|team|support|info|office|kanzlei|assistenz|sekretariat|redaktion|"
    r"marketing|buchhaltung|accounting|service|verwaltung|praxis|hotel|verein|agentur|agency|studio|shop|noreply|no-reply)\b",
    re.I,
)
_PREFIX = re.compile(r"^(?:\s*(?:re|aw|antw|sv|wg|fwd?|fw)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


@dataclass(frozen=True)
class DraftFacts:
    """What a draft needs to know besides the mail."""

    kind: str  # technical | deletion | acknowledgement
    language: str
    topic: str
    product: str
    missing: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    legal: bool = False
    reason: bool = False


class Drafter:
    """Renders drafts from the templates folder with the configured company and teams."""

    def __init__(self, config: Config, templates: Path = TEMPLATES) -> None:
        self.config = config
        self.env = Environment(
            loader=FileSystemLoader(str(templates)),
            autoescape=False,
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=False,
        )

    def render(self, mail: Mail, facts: DraftFacts) -> str:
        language = facts.language if facts.language in ("de", "en") else "en"
        team = self.config.team_for(facts.topic)
        drafts = self.config.drafts
        work_de, work_en = WORK.get(facts.product, WORK["unknown"])
        context = {
            "greeting": greeting(mail.from_name, language),
            "missing": list(facts.missing),
            "questions": QUESTIONS[language],
            "image": image_summary(mail.attachments, language),
            "work_de": work_de,
            "work_en": work_en,
            "urls": list(facts.urls),
            "legal": facts.legal,
            "reason": facts.reason or facts.legal,
            "deletion_form": drafts.deletion_form,
            "team": team,
            "company": drafts.company,
            "phone": drafts.phone,
        }
        text = self.env.get_template(f"{facts.kind}.{language}.j2").render(context)
        return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def greeting(name: str, language: str) -> str:
    """A neutral greeting with the writer's name when it looks like a person's name."""
    clean = re.sub(r"[^\w .'-]", "", name, flags=re.UNICODE).strip()
    words = clean.split()
    if 2 <= len(words) <= 4 and not _ORGANISATION.search(clean):
        return f"Guten Tag {clean}," if language == "de" else f"Dear {clean},"
    return "Guten Tag," if language == "de" else "Hello,"


def image_summary(attachments: tuple[Attachment, ...], language: str) -> str:
    for item in attachments:
        if item.width and item.height:
            size = f"{item.size / 1024:.0f} KB" if item.size < 1024 * 1024 else f"{item.size / 1048576:.1f} MB"
            pixels = "Pixel" if language == "de" else "pixels"
            return f"{item.filename}: {item.image_format}, {item.width} × {item.height} {pixels}, {size}"
    return ""


def reply_subject(subject: str) -> str:
    """``Re:`` exactly once in front of the original subject."""
    return "Re: " + (_PREFIX.sub("", _one_line(subject)) or "Ihre Nachricht")


def draft_message(mail: Mail, text: str, from_address: str, from_name: str = "") -> bytes:
    """The draft as a reply message, threaded to ``mail``, with the customer's text quoted below."""
    message = EmailMessage()
    message["From"] = f"{_one_line(from_name)} <{from_address}>" if from_name else from_address
    reply_to = mail.header("reply-to")
    message["To"] = _one_line(reply_to or mail.from_addr or "")
    message["Subject"] = reply_subject(mail.subject)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2] or "triage.invalid")
    if mail.message_id:
        message["In-Reply-To"] = mail.message_id
        message["References"] = " ".join(list(mail.references) + [mail.message_id])
    message["X-Triage-Draft"] = "yes"
    message.set_content(text + "\n" + quote(mail), charset="utf-8")
    return message.as_bytes()


def quote(mail: Mail) -> str:
    """The customer's text as a quoted block with an attribution line."""
    who = mail.from_name or mail.from_addr or "?"
    when = mail.date[:16].replace("T", " ") if mail.date else ""
    head = f"{when} {who}:" if when else f"{who}:"
    body = "\n".join("> " + line if line else ">" for line in mail.body.strip().split("\n"))
    return f"{head}\n{body}\n"


def _one_line(value: str) -> str:
    return re.sub(r"[\r\n\t]+", " ", value).strip()
