"""`triage train`: fit the classifier on the corpus, measure it, and write it out.

Reproducible: the records are read in id order, every random state is
fixed, and the same data gives the same model and the same figures. The
fixed test split (see `triage.corpus.split_of`) is never trained on; its
per-class figures go into the model's metadata and the report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from triage import __version__
from triage.corpus import TOPICS, Record, data_hash, to_mime
from triage.decision import TECHNICAL_THRESHOLD, TECHNICAL_TOPICS, extraction_text
from triage.features import classification_text
from triage.model import TopicModel, candidate_classifiers, candidate_pipelines, make_features
from triage.technical import looks_technical
from triage.parsing import parse_mail

Progress = Callable[[str], None]
_SHORT = {"influma": "influma", "blog2social": "b2s", "prgateway-sales": "sales", "prgateway-support": "support",
          "billing": "billing", "press-release": "press", "deletion": "deletion", "unsorted": "unsorted"}
CV_FOLDS = 5
SEED = 0


@dataclass(frozen=True)
class Sample:
    id: str
    split: str
    text: str
    topic: str
    product: str
    technical: bool
    raw_text: str  # subject, new and forwarded text as written, for the wording rules


def samples(records: list[Record], progress: Progress = lambda _: None) -> list[Sample]:
    """Classification texts of the non-automated records, built through the real parser."""
    out = []
    wanted = [r for r in records if r.topic != "automated"]
    for i, record in enumerate(wanted, 1):
        mail = parse_mail(to_mime(record))
        out.append(Sample(record.id, record.split, classification_text(mail), record.topic, record.labels["product"],
                          record.labels["technical"] == "yes", extraction_text(mail)))
        if i % 250 == 0 or i == len(wanted):
            progress(f"parsed {i}/{len(wanted)} mails")
    return out


def class_report(truth: list[str], predicted: list[str], labels: list[str]) -> dict[str, Any]:
    """Per-class precision/recall/F1/support, macro averages, accuracy and the confusion matrix."""
    p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    per_class = {
        label: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                "f1": round(float(f[i]), 4), "support": int(s[i])}
        for i, label in enumerate(labels)
    }
    return {
        "per_class": per_class,
        "macro_f1": round(float(np.mean(f)), 4),
        "accuracy": round(float(np.mean(np.array(truth) == np.array(predicted))), 4),
        "confusion": {"labels": labels, "matrix": confusion_matrix(truth, predicted, labels=labels).tolist()},
    }


def train(records: list[Record], progress: Progress = lambda _: None, candidates: list[str] | None = None) -> TopicModel:
    """Choose a design by cross-validation on the train split, fit it, evaluate on the test split."""
    # The problems are small: BLAS threads only fight each other (measured: twice as fast with one).
    with threadpool_limits(limits=1):
        return _train(records, progress, candidates)


def _train(records: list[Record], progress: Progress, candidates: list[str] | None) -> TopicModel:
    data = samples(records, progress)
    train_set = [s for s in data if s.split == "train"]
    test_set = [s for s in data if s.split == "test"]
    x_train = [s.text for s in train_set]
    y_train = [s.topic for s in train_set]
    labels = [t for t in TOPICS if t in set(y_train)]
    folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=SEED)

    designs = candidate_pipelines(SEED)
    cv_results = {}
    for name in candidates or list(designs):
        progress(f"cross-validating {name} ({CV_FOLDS} folds over {len(train_set)} mails)")
        predicted = cross_val_predict(clone(designs[name]), x_train, y_train, cv=folds)
        cv_results[name] = class_report(y_train, list(predicted), labels)
        progress(f"  {name}: macro-F1 {cv_results[name]['macro_f1']:.3f}")
    best = max(cv_results, key=lambda name: (cv_results[name]["macro_f1"], name))

    progress(f"fitting {best} on {len(train_set)} mails")
    features = make_features()
    matrix = features.fit_transform(x_train)
    classifiers = candidate_classifiers(SEED)
    topic = clone(classifiers[best]).fit(matrix, y_train)
    product = clone(classifiers["logreg"]).fit(matrix, [s.product for s in train_set])
    progress("choosing how model and wording rules flag technical problems")
    technical_rule, technical_cv = _choose_technical_rule(train_set, designs["logreg"], folds)
    technical = clone(classifiers["logreg"]).fit(matrix, [s.technical for s in train_set])
    model = TopicModel(features, topic, product, technical, {"technical_rule": technical_rule})

    predictions = model.predict([s.text for s in test_set])
    test_report = class_report([s.topic for s in test_set], [p.topic for p in predictions], labels)
    product_truth = [s.product for s in test_set]
    product_pred = [p.product for p in predictions]
    model.metadata.update({
        "triage_version": __version__,
        "model_version": f"{__version__}+{data_hash(records)[:12]}",
        "sklearn_version": sklearn.__version__,
        "training_data_sha256": data_hash(records),
        "trained_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "design": best,
        "mails": {"total": len(records), "train": len(train_set), "test": len(test_set),
                  "automated_excluded": len(records) - len(data)},
        "cross_validation": {name: {"macro_f1": r["macro_f1"], "accuracy": r["accuracy"]} for name, r in cv_results.items()},
        "cross_validation_best": cv_results[best],
        "test": test_report,
        "test_product_accuracy": round(float(np.mean(np.array(product_truth) == np.array(product_pred))), 4),
        "test_confidence": _confidence_table(test_set, predictions),
        "technical_cross_validation": technical_cv,
        "test_technical": _technical_report(test_set, predictions, technical_rule),
    })
    return model


def _technical_flags(samples_: list[Sample], probabilities: list[float], topics: list[str]) -> dict[str, list[bool]]:
    by_model = [bool(p >= TECHNICAL_THRESHOLD) for p in probabilities]
    by_rules = [looks_technical(s.raw_text) for s in samples_]
    gate = [t in TECHNICAL_TOPICS for t in topics]
    combos = {
        "model": by_model,
        "rules": by_rules,
        "either": [m or r for m, r in zip(by_model, by_rules)],
        "both": [m and r for m, r in zip(by_model, by_rules)],
    }
    return {name: [g and f for g, f in zip(gate, flags)] for name, flags in combos.items()}


def _binary_f1(truth: list[bool], predicted: list[bool]) -> dict[str, float]:
    tp = sum(t and p for t, p in zip(truth, predicted))
    fp = sum(p and not t for t, p in zip(truth, predicted))
    fn = sum(t and not p for t, p in zip(truth, predicted))
    precision = tp / max(1, tp + fp)
    recall = tp / max(1, tp + fn)
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    f2 = 5 * precision * recall / max(1e-9, 4 * precision + recall)
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "f2": round(f2, 4),
            "support": tp + fn}


def _choose_technical_rule(train_set: list[Sample], design: Any, folds: StratifiedKFold) -> tuple[str, dict[str, Any]]:
    """Pick model, rules, either or both by cross-validated F2 on the train split.

    F2 weighs recall twice: every technical problem must get its draft, while
    a draft for a mail that is no problem costs an agent one look.
    """
    x = [s.text for s in train_set]
    y = [s.technical for s in train_set]
    probabilities = cross_val_predict(clone(design), x, y, cv=folds, method="predict_proba")[:, 1]
    flags = _technical_flags(train_set, list(probabilities), [s.topic for s in train_set])
    scores = {name: _binary_f1(y, predicted) for name, predicted in flags.items()}
    best = max(scores, key=lambda name: (scores[name]["f2"], name))
    return best, scores


def _technical_report(test_set: list[Sample], predictions: list[Any], rule: str) -> dict[str, float]:
    flags = _technical_flags(test_set, [p.technical_probability for p in predictions], [p.topic for p in predictions])
    return {"rule": rule, **_binary_f1([s.technical for s in test_set], flags[rule])}


def _confidence_table(test_set: list[Sample], predictions: list[Any]) -> list[dict[str, float]]:
    """For several thresholds: share of test mail sent to `unsorted`, accuracy of the rest."""
    rows = []
    for threshold in (0.3, 0.4, 0.45, 0.5, 0.6, 0.7):
        kept = [(s, p) for s, p in zip(test_set, predictions) if p.confidence >= threshold]
        correct = sum(1 for s, p in kept if s.topic == p.topic)
        rows.append({
            "threshold": threshold,
            "unsorted_share": round(1 - len(kept) / max(1, len(test_set)), 4),
            "accuracy_of_sorted": round(correct / max(1, len(kept)), 4),
        })
    return rows


def format_report(report: dict[str, Any], title: str) -> str:
    """A per-class table and the confusion matrix as plain text."""
    lines = [title, f"{'class':<20}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}"]
    for label, row in report["per_class"].items():
        lines.append(f"{label:<20}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}{row['support']:>9}")
    lines.append(f"{'macro':<20}{'':>10}{'':>10}{report['macro_f1']:>10.3f}")
    lines.append(f"accuracy {report['accuracy']:.3f}")
    labels = report["confusion"]["labels"]
    short = [_SHORT.get(label, label[:8]) for label in labels]
    lines.append("confusion (rows: truth, columns: predicted)")
    lines.append(" " * 20 + "".join(f"{s:>9}" for s in short))
    for label, row in zip(labels, report["confusion"]["matrix"]):
        lines.append(f"{label:<20}" + "".join(f"{n:>9}" for n in row))
    return "\n".join(lines)
