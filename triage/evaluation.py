"""`triage evaluate`: the whole triage measured against labelled mail it never trained on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triage.corpus import DETAIL_KEYS, TOPICS, load, to_mime
from triage.config import CENTRAL_EXTENSION
from triage.engine import Engine
from triage.training import class_report, format_report


@dataclass
class Evaluation:
    mails: int = 0
    topic: dict[str, Any] = field(default_factory=dict)
    language_accuracy: float = 0.0
    automated: dict[str, float] = field(default_factory=dict)
    technical: dict[str, float] = field(default_factory=dict)
    legal: dict[str, float] = field(default_factory=dict)
    url_recall: float = 0.0
    details: dict[str, float] = field(default_factory=dict)
    drafts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def evaluate(engine: Engine, folder: Path, split: str = "all") -> Evaluation:
    records = [r for r in load(folder) if split == "all" or r.split == split]
    outcomes = engine.triage_raw([to_mime(r) for r in records], [r.id for r in records])
    result = Evaluation(mails=len(records))
    truth, predicted = [], []
    language_hits = 0
    tp = fp = fn = 0
    technical = _Counts()
    legal = _Counts()
    urls_wanted = urls_found = 0
    detail_agree = {key: [0, 0] for key in DETAIL_KEYS}
    drafts = {"due": 0, "written": 0, "central_number": 0}
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
            is_technical = record.labels["technical"] == "yes"
            is_legal = record.labels["legal"] == "yes"
            technical.add(is_technical, decision.technical_problem)
            legal.add(is_legal, decision.legal_warning)
            if is_technical != decision.technical_problem:
                result.errors.append(f"{record.id}: technical {decision.technical_problem}, labelled {is_technical}")
            if is_legal != decision.legal_warning:
                result.errors.append(f"{record.id}: legal {decision.legal_warning}, labelled {is_legal}")
            if record.topic == "deletion":
                found = {u.lower().rstrip("/") for u in decision.urls}
                wanted = [u.lower().rstrip("/") for u in record.label_list("urls")]
                urls_wanted += len(wanted)
                urls_found += sum(1 for u in wanted if u in found)
                for url in wanted:
                    if url not in found:
                        result.errors.append(f"{record.id}: URL missed {url}")
            if is_technical and decision.technical_problem:
                given = set(record.label_list("details"))
                for key in DETAIL_KEYS:
                    if key == "image" and "image" not in decision.missing_details and "image" not in given:
                        continue  # not an image-upload problem by either account
                    agree = (key in given) == (key not in decision.missing_details)
                    detail_agree[key][0] += agree
                    detail_agree[key][1] += 1
                    if not agree:
                        result.errors.append(f"{record.id}: detail {key} given={key in given}, missing={key in decision.missing_details}")
            if is_technical or record.topic == "deletion":
                drafts["due"] += 1
                drafts["written"] += decision.draft is not None
            if decision.draft and f"-{CENTRAL_EXTENSION}" in decision.draft:
                drafts["central_number"] += 1
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
    result.technical = technical.scores()
    result.legal = legal.scores()
    result.url_recall = round(urls_found / max(1, urls_wanted), 4)
    result.details = {key: round(a / n, 4) for key, (a, n) in detail_agree.items() if n}
    result.drafts = drafts
    result.automated = {
        "precision": round(precision, 4), "recall": round(recall, 4),
        "f1": round(2 * precision * recall / max(1e-9, precision + recall), 4),
        "support": tp + fn,
    }
    return result


class _Counts:
    def __init__(self) -> None:
        self.tp = self.fp = self.fn = 0

    def add(self, truth: bool, predicted: bool) -> None:
        self.tp += truth and predicted
        self.fp += predicted and not truth
        self.fn += truth and not predicted

    def scores(self) -> dict[str, float]:
        precision = self.tp / max(1, self.tp + self.fp)
        recall = self.tp / max(1, self.tp + self.fn)
        f1 = 2 * precision * recall / max(1e-9, precision + recall)
        return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                "support": self.tp + self.fn}


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
    for name, scores in (("technical problem", result.technical), ("legal warning", result.legal)):
        lines.append(f"{name:<23}precision {scores['precision']:.3f}  recall {scores['recall']:.3f}  "
                     f"F1 {scores['f1']:.3f}  ({scores['support']} labelled)")
    lines.append(f"URL recall (deletion)  {result.url_recall:.3f}")
    lines.append("detail agreement       " + "  ".join(f"{k} {v:.2f}" for k, v in result.details.items()))
    lines.append(f"drafts                 {result.drafts['written']} of {result.drafts['due']} due written; "
                 f"{result.drafts['central_number']} contain the central number")
    if show_errors and result.errors:
        lines += ["", "errors:"] + [f"  {e}" for e in result.errors]
    return "\n".join(lines)
