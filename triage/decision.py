"""The pure core: a parsed mail, its language and the classifier's prediction become a `Decision`.

No I/O here. `triage.engine` gathers the inputs (automated-mail check,
language, batch prediction) and calls `decide` for each mail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from triage.config import UNSORTED, Config
from triage.model import Prediction

# The product a topic implies; the other topics take the product classifier's answer.
TOPIC_PRODUCT = {
    "influma": "influma",
    "blog2social": "blog2social",
    "prgateway-sales": "prgateway",
    "prgateway-support": "prgateway",
}
PRODUCT_THRESHOLD = 0.5


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
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["urls"] = list(self.urls)
        data["missing_details"] = list(self.missing_details)
        data["guesses"] = [{"topic": t, "probability": p} for t, p in self.guesses]
        del data["notes"]
        return data


def decide(skipped: str | None, language: str, prediction: Prediction | None, config: Config) -> Decision:
    """Turn the facts about one mail into a decision. ``prediction`` is None for skipped mail."""
    if skipped or prediction is None:
        return Decision(skipped=skipped, language=language, topic=UNSORTED, product="unknown",
                        confidence=0.0, group=None)
    topic = prediction.topic
    if prediction.confidence < config.classifier.threshold:
        topic = UNSORTED
    product = product_for(prediction)
    group = config.group_for(topic, language)
    return Decision(
        skipped=None,
        language=language,
        topic=topic,
        product=product,
        confidence=prediction.confidence,
        group=group.name,
        group_address=group.address,
        guesses=prediction.ranked,
    )


def product_for(prediction: Prediction) -> str:
    """The product a confident topic implies, else the product classifier's answer."""
    implied = TOPIC_PRODUCT.get(prediction.topic)
    if implied:
        return implied
    if prediction.product_confidence < PRODUCT_THRESHOLD:
        return "unknown"
    return prediction.product
