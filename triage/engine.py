"""Triage of a batch of mails: gathers the facts each decision needs and calls the pure core.

Holds the loaded model and configuration. Parsing errors become decisions
with an ``error`` so that one bad mail never stops a batch.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass

from triage.automated import detect_automated
from triage.config import Config
from triage.decision import Decision, decide
from triage.drafts import Drafter
from triage.errors import ParseError
from triage.features import classification_text
from triage.language import detect_language, warm_up
from triage.mail import Mail
from triage.model import TopicModel, load_model
from triage.parsing import parse_mail

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """A mail's decision, or the error that kept it from being parsed."""

    mail: Mail | None
    decision: Decision | None
    error: str | None = None


class Engine:
    def __init__(self, config: Config, model: TopicModel | None = None) -> None:
        self.config = config
        self.model = model or load_model(config.classifier.model)
        self.drafter = Drafter(config)
        warm_up()
        # The model, language profiles and templates live as long as the process:
        # keep the garbage collector from scanning them again and again.
        gc.freeze()

    def triage_raw(self, raws: list[bytes], names: list[str] | None = None) -> list[Outcome]:
        """Parse and decide a batch of raw messages; ``names`` label log lines."""
        names = names or [f"#{i}" for i in range(len(raws))]
        mails: list[Mail | None] = []
        errors: list[str | None] = []
        for name, raw in zip(names, raws):
            try:
                mails.append(parse_mail(raw))
                errors.append(None)
            except ParseError as exc:
                log.warning("%s: cannot parse mail: %s", name, exc)
                mails.append(None)
                errors.append(str(exc))
        decisions = self.triage([m for m in mails if m is not None])
        it = iter(decisions)
        return [
            Outcome(mail, next(it), None) if mail is not None else Outcome(None, None, error)
            for mail, error in zip(mails, errors)
        ]

    def triage(self, mails: list[Mail]) -> list[Decision]:
        """Decide a batch of parsed mails, predicting all topics in one call."""
        skipped = [detect_automated(mail) for mail in mails]
        languages = [detect_language(language_text(mail)) for mail in mails]
        wanted = [i for i, reason in enumerate(skipped) if reason is None]
        predictions = self.model.predict([classification_text(mails[i]) for i in wanted])
        by_index = dict(zip(wanted, predictions))
        rule = self.model.technical_rule
        return [
            decide(mails[i], skipped[i], languages[i], by_index.get(i), self.config, self.drafter, rule)
            for i in range(len(mails))
        ]


def language_text(mail: Mail) -> str:
    """The writer's own words; the subject and forwarded text only help when those are few."""
    if len(mail.new_text.split()) >= 4:
        return mail.new_text
    return "\n".join(filter(None, (mail.subject, mail.new_text, mail.forwarded_text)))
