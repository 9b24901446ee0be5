"""The pure core: a parsed mail, its language and the classifier's prediction become a `Decision`.

No I/O here (templates are read once by the `Drafter`). `triage.engine`
gathers the inputs (automated-mail check, language, batch prediction) and
calls `decide` for each mail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from triage.config import UNSORTED, Config
from triage.deletion import gives_reason
from triage.details import missing_details
from triage.drafts import DraftFacts, Drafter
from triage.legal import has_legal_warning
from triage.mail import Mail
from triage.model import Prediction
from triage.technical import looks_technical
from triage.urls import extract_urls

# The product a topic implies; the other topics take the product classifier's answer.
TOPIC_PRODUCT = {
    "influma": "influma",
    "blog2social": "blog2social",
    "prgateway-sales": "prgateway",
    "prgateway-support": "prgateway",
}
PRODUCT_THRESHOLD = 0.5
# Topics in which "something does not work" is a technical problem to escalate;
# elsewhere (invoices, sales, releases, deletions) the owner group handles it.
TECHNICAL_TOPICS = ("prgateway-support", "blog2social", "influma", UNSORTED)
TECHNICAL_THRESHOLD = 0.5
# A deletion guess this likely is enough to look for a legal warning: one must never be missed.
LEGAL_DELETION_PROBABILITY = 0.15


@dataclass(frozen=True)
class Decision:
    """What triage decided for one mail; `to_json` gives the SPEC's `classify --json` object."""

    skipped: str | None
    language: str
    topic: str
    product: str
    confidence: float
    group: str | None
    group_address: str | None = None
    guesses: tuple[tuple[str, float], ...] = ()
    technical_problem: bool = False
    legal_warning: bool = False
    urls: tuple[str, ...] = ()
    missing_details: tuple[str, ...] = ()
    draft: str | None = None
    draft_kind: str | None = None
    team_address: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["urls"] = list(self.urls)
        data["missing_details"] = list(self.missing_details)
        data["guesses"] = [{"topic": t, "probability": p} for t, p in self.guesses]
        return data


def decide(mail: Mail, skipped: str | None, language: str, prediction: Prediction | None,
           config: Config, drafter: Drafter, technical_rule: str = "either") -> Decision:
    """Turn the facts about one mail into a decision. ``prediction`` is None for skipped mail."""
    if skipped or prediction is None:
        return Decision(skipped=skipped, language=language, topic=UNSORTED, product="unknown",
                        confidence=0.0, group=None)
    topic = prediction.topic if prediction.confidence >= config.classifier.threshold else UNSORTED
    product = product_for(prediction)
    group = config.group_for(topic, language)
    text = extraction_text(mail)
    urls = tuple(extract_urls(text))

    technical = topic in TECHNICAL_TOPICS and is_technical(text, prediction, technical_rule)
    deletion_likely = topic == "deletion" or dict(prediction.ranked).get("deletion", 0.0) >= LEGAL_DELETION_PROBABILITY
    legal = deletion_likely and has_legal_warning(text)
    is_deletion = topic == "deletion" or (topic == UNSORTED and (legal or prediction.topic == "deletion"))
    missing = tuple(missing_details(text, mail.attachments)) if technical else ()

    kind = None
    if is_deletion:
        kind = "deletion"
    elif technical:
        kind = "technical"
    elif config.drafts.acknowledge_other_topics and topic != UNSORTED:
        kind = "acknowledgement"
    draft = None
    team = config.team_for("deletion" if is_deletion else topic)
    if kind:
        facts = DraftFacts(kind=kind, language=language, topic=topic, product=product, missing=missing,
                           urls=urls, legal=legal, reason=gives_reason(text))
        draft = drafter.render(mail, facts)
    return Decision(
        skipped=None,
        language=language,
        topic=topic,
        product=product,
        confidence=prediction.confidence,
        group=group.name,
        group_address=group.address,
        guesses=prediction.ranked,
        technical_problem=technical,
        legal_warning=legal,
        urls=urls,
        missing_details=missing,
        draft=draft,
        draft_kind=kind,
        team_address=team.address,
    )


def extraction_text(mail: Mail) -> str:
    """What details, URLs and legal wording are looked for in: subject, new text, forwarded content."""
    return "\n".join(part for part in (mail.subject, mail.new_text, mail.forwarded_text) if part)


def is_technical(text: str, prediction: Prediction, rule: str) -> bool:
    """Combine the trained model and the wording rules as training chose (``rule``)."""
    by_model = prediction.technical_probability >= TECHNICAL_THRESHOLD
    by_rules = looks_technical(text)
    return {
        "model": by_model,
        "rules": by_rules,
        "both": by_model and by_rules,
    }.get(rule, by_model or by_rules)


def product_for(prediction: Prediction) -> str:
    """The product a topic implies, else the product classifier's answer."""
    implied = TOPIC_PRODUCT.get(prediction.topic)
    if implied:
        return implied
    if prediction.product_confidence < PRODUCT_THRESHOLD:
        return "unknown"
    return prediction.product
