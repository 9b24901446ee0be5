"""The topic and product classifier: the only module that uses scikit-learn and skops.

Two linear text classifiers over TF-IDF word and character n-grams, one for
the topic and one for the product, saved with skops (never pickle) next to
a metadata JSON. Loading refuses any type outside a short allow-list.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from triage.errors import ModelError

MODEL_FILE = "triage.skops"
METADATA_FILE = "triage.json"
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / MODEL_FILE

# Types a triage model file may contain beyond skops' own defaults.
_ALLOWED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "builtins.")


@dataclass(frozen=True)
class Prediction:
    topic: str
    confidence: float
    ranked: tuple[tuple[str, float], ...]
    product: str
    product_confidence: float
    technical_probability: float = 0.0


HASH_FEATURES = 2**16


def make_features() -> FeatureUnion:
    """TF-IDF over hashed word uni- and bigrams and character 3–5-grams (within word bounds).

    Hashing keeps no vocabulary, so the model file holds only numbers: small,
    quick to load, and no user text from the corpus inside it.
    """

    def tfidf(**kwargs: Any) -> Pipeline:
        return Pipeline([
            ("hash", HashingVectorizer(n_features=HASH_FEATURES, alternate_sign=False, norm=None, **kwargs)),
            ("idf", TfidfTransformer(sublinear_tf=True)),
        ])

    return FeatureUnion([
        ("words", tfidf(ngram_range=(1, 2))),
        ("chars", tfidf(analyzer="char_wb", ngram_range=(3, 5))),
    ])


def candidate_classifiers(seed: int = 0) -> dict[str, Any]:
    """The classifier designs that training compares by cross-validation, over the same features."""
    return {
        "logreg": LogisticRegression(C=20.0, max_iter=3000, class_weight="balanced", random_state=seed),
        "svm-calibrated": CalibratedClassifierCV(LinearSVC(C=0.5, class_weight="balanced", random_state=seed), cv=3),
    }


def candidate_pipelines(seed: int = 0) -> dict[str, Pipeline]:
    """Features plus each candidate classifier, for cross-validation (features refit in every fold)."""
    return {name: Pipeline([("features", make_features()), ("clf", clf)])
            for name, clf in candidate_classifiers(seed).items()}


class TopicModel:
    """Shared text features and three classifiers (topic, product, technical problem), with their metadata."""

    def __init__(self, features: FeatureUnion, topic: Any, product: Any, technical: Any, metadata: dict[str, Any]) -> None:
        self.features = features
        self.topic = topic
        self.product = product
        self.technical = technical
        self.metadata = metadata

    @property
    def technical_rule(self) -> str:
        """How the technical-problem flag combines model and rules (chosen by training)."""
        return str(self.metadata.get("technical_rule", "either"))

    @property
    def topics(self) -> list[str]:
        return [str(c) for c in self.topic.classes_]

    def predict(self, texts: list[str]) -> list[Prediction]:
        """Predictions for a batch of classification texts (see `triage.features`)."""
        if not texts:
            return []
        matrix = self.features.transform(texts)
        topic_probs = self.topic.predict_proba(matrix)
        product_probs = self.product.predict_proba(matrix)
        technical_probs = self.technical.predict_proba(matrix)[:, list(self.technical.classes_).index(True)]
        topic_classes = self.topic.classes_
        product_classes = self.product.classes_
        out = []
        for tp, pp, tech in zip(topic_probs, product_probs, technical_probs):
            order = np.argsort(-tp, kind="stable")
            ranked = tuple((str(topic_classes[i]), round(float(tp[i]), 4)) for i in order[:3])
            best_product = int(np.argmax(pp))
            out.append(Prediction(
                topic=ranked[0][0],
                confidence=ranked[0][1],
                ranked=ranked,
                product=str(product_classes[best_product]),
                product_confidence=round(float(pp[best_product]), 4),
                technical_probability=round(float(tech), 4),
            ))
        return out


_PARTS = ("features", "topic", "product", "technical")


def save_model(model: TopicModel, folder: Path) -> tuple[Path, Path]:
    """Write the model and its metadata into ``folder`` atomically (temp file, then rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    model_path = folder / MODEL_FILE
    meta_path = folder / METADATA_FILE
    payload = sio.dumps({part: getattr(model, part) for part in _PARTS}, compression=zipfile.ZIP_DEFLATED)
    _atomic_write(model_path, payload)
    _atomic_write(meta_path, (json.dumps(model.metadata, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode())
    return model_path, meta_path


def load_model(path: Path | str | None = None) -> TopicModel:
    """Load a model file and the metadata JSON beside it; raise `ModelError` on any problem."""
    model_path = Path(path) if path else DEFAULT_MODEL
    meta_path = model_path.with_suffix(".json")
    try:
        data = model_path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{model_path}: cannot read model ({exc.strerror}); run 'triage train' to make one") from exc
    try:
        untrusted = sio.get_untrusted_types(data=data)
        unexpected = [t for t in untrusted if not t.startswith(_ALLOWED_PREFIXES)]
        if unexpected:
            raise ModelError(f"{model_path}: refuses to load unexpected types {unexpected}")
        bundle = sio.loads(data, trusted=untrusted)
    except ModelError:
        raise
    except Exception as exc:  # skops raises many kinds on a corrupt or foreign file
        raise ModelError(f"{model_path}: not a triage model file ({exc})") from exc
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{meta_path}: missing or unreadable model metadata ({exc})") from exc
    if not isinstance(bundle, dict) or set(bundle) != set(_PARTS):
        raise ModelError(f"{model_path}: not a triage model file (unexpected content)")
    return TopicModel(*(bundle[part] for part in _PARTS), metadata)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
