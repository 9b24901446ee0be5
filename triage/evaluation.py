"""`triage evaluate`: the whole triage measured against labelled mail it never trained on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triage.corpus import TOPICS, load, to_mime
from triage.engine import Engine
from triage.training import class_report, format_report


@dataclass
class Evaluation:
    mails: int = 0
    topic: dict[str, Any] = field(default_factory=dict)
    language_accuracy: float = 0.0
    automated: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def evaluate(engine: Engine, folder: Path, split: str = "all") -> Evaluation:
    records = [r for r in load(folder) if split == "all" or r.split == split]
    outcomes = engine.triage_raw([to_mime(r) for r in records], [r.id for r in records])
    result = Evaluation(mails=len(records))
    truth, predicted = [], []
    language_hits = 0
    tp = fp = fn = 0
    for record, outcome in zip(records, outcomes):
        decision = outcome.decision
        if decision is None:
            result.errors.append(f"{record.id}: parse error {outcome.error}")
            continue
        is_auto = record.topic == "automated"
        flagged = decision.skipped is not None
        tp += is_auto and flagged
        fp += flagged and not is_auto
        fn += is_auto and not flagged
        language_hits += decision.language == record.labels["language"]
        if decision.language != record.labels["language"]:
            result.errors.append(f"{record.id}: language {decision.language}, labelled {record.labels['language']}")
        if is_auto and flagged:
            continue
        if is_auto != flagged:
            result.errors.append(f"{record.id}: skipped={decision.skipped}, labelled {record.topic}")
        if not is_auto:
            truth.append(record.topic)
            predicted.append(decision.topic)
            if decision.topic != record.topic:
                result.errors.append(
                    f"{record.id}: topic {decision.topic} ({decision.confidence:.2f}), labelled {record.topic}")
    labels = list(TOPICS) + (["unsorted"] if "unsorted" in predicted else [])
    report = class_report(truth, predicted, labels)
    # unsorted is no class of the truth: it counts as a miss, not as a class of its own
    per_topic = [report["per_class"][t]["f1"] for t in TOPICS]
    report["macro_f1"] = round(sum(per_topic) / len(per_topic), 4)
    result.topic = report
    result.language_accuracy = round(language_hits / max(1, len(records) - len([e for e in result.errors if "parse error" in e])), 4)
    precision = tp / max(1, tp + fp)
    recall = tp / max(1, tp + fn)
    result.automated = {
        "precision": round(precision, 4), "recall": round(recall, 4),
        "f1": round(2 * precision * recall / max(1e-9, precision + recall), 4),
        "support": tp + fn,
    }
    return result


def format_evaluation(result: Evaluation, show_errors: bool = False) -> str:
    topic = dict(result.topic)
    topic["per_class"] = {k: v for k, v in topic["per_class"].items() if k != "unsorted"}
    lines = [
        format_report(topic, f"topic over {sum(r['support'] for r in topic['per_class'].values())} customer mails (unsorted counts as a miss)"),
        "",
        f"language accuracy      {result.language_accuracy:.3f} over {result.mails} mails",
        f"automated mail         precision {result.automated['precision']:.3f}  recall {result.automated['recall']:.3f}  "
        f"F1 {result.automated['f1']:.3f}  ({result.automated['support']} automated)",
    ]
    if show_errors and result.errors:
        lines += ["", "errors:"] + [f"  {e}" for e in result.errors]
    return "\n".join(lines)
