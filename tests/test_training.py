"""Training is reproducible; the shipped model matches the corpus it claims; model files load safely."""

from __future__ import annotations

import json
import zipfile

import pytest

from triage.corpus import load
from triage.errors import ModelError
from triage.model import DEFAULT_MODEL, load_model, save_model
from triage.training import train


@pytest.fixture(scope="module")
def small_corpus():
    records = load()
    # a small, fixed, every-class subset keeps two trainings fast
    picked, per_label = [], {}
    for record in records:
        if per_label.get(record.topic, 0) < 30:
            per_label[record.topic] = per_label.get(record.topic, 0) + 1
            picked.append(record)
    return picked


def test_same_data_gives_the_same_model_and_figures(small_corpus, tmp_path):
    first = train(small_corpus, candidates=["svm-calibrated"])
    second = train(small_corpus, candidates=["svm-calibrated"])
    drop = lambda meta: {k: v for k, v in meta.items() if k != "trained_at"}  # noqa: E731
    assert drop(first.metadata) == drop(second.metadata)
    save_model(first, tmp_path / "a")
    save_model(second, tmp_path / "b")
    reloaded = [load_model(tmp_path / name / "triage.skops") for name in ("a", "b")]
    texts = ["rechnung bitte nochmal schicken", "instagram post not published", "loeschen sie bitte die meldung"]
    assert reloaded[0].predict(texts) == reloaded[1].predict(texts) == first.predict(texts)
    meta = json.loads((tmp_path / "a" / "triage.json").read_text())
    assert set(meta["test"]["per_class"]) <= set(meta["cross_validation_best"]["per_class"])


def test_shipped_model_matches_the_corpus():
    from triage.corpus import data_hash

    meta = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["training_data_sha256"] == data_hash(load()), "models/ is stale: run `triage train`"
    assert meta["test"]["macro_f1"] >= 0.9
    for row in meta["test"]["per_class"].values():
        assert row["support"] > 0


def test_model_loading_refuses_foreign_files(tmp_path):
    (tmp_path / "x.skops").write_bytes(b"not a zip")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ModelError, match="not a triage model file"):
        load_model(tmp_path / "x.skops")
    with pytest.raises(ModelError, match="cannot read model"):
        load_model(tmp_path / "missing.skops")


def test_model_loading_refuses_unexpected_types(tmp_path):
    import skops.io as sio
    from fractions import Fraction

    path = tmp_path / "evil.skops"
    sio.dump({"topic": Fraction(1, 3), "product": None, "technical": None}, path)
    (tmp_path / "evil.json").write_text("{}")
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist()
    with pytest.raises(ModelError, match="unexpected types"):
        load_model(path)
