"""The corpus: labels.csv agrees with the batch files, every mail builds and parses, the split is fixed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from triage.corpus import ROOT, labels_csv, labels_path, load, read_batch, split_of, to_mime
from triage.errors import CorpusError
from triage.parsing import parse_mail


@pytest.fixture(scope="module")
def records():
    return load()


@pytest.mark.parametrize("folder", ["mails", "blind"])
def test_labels_file_agrees_with_the_batch_files(folder):
    path = ROOT / folder
    assert labels_path(path).read_text(encoding="utf-8") == labels_csv(load(path)), \
        f"run: python -m triage.corpus labels {path}"


def test_corpus_size_and_mix(records):
    topics = Counter(r.topic for r in records)
    languages = Counter(r.labels["language"] for r in records)
    assert len(records) >= 1500
    assert set(topics) == {"influma", "blog2social", "prgateway-sales", "prgateway-support", "billing",
                           "press-release", "deletion", "automated"}
    assert 0.55 <= languages["de"] / len(records) <= 0.65
    assert {r.labels["product"] for r in records} == {"prgateway", "blog2social", "influma", "unknown"}
    deletions = [r for r in records if r.topic == "deletion"]
    assert 0.25 < sum(r.labels["legal"] == "yes" for r in deletions) / len(deletions) < 0.6
    assert sum(r.labels["technical"] == "yes" for r in records) > 200


def test_blind_set_shares_no_id_and_no_text_with_the_corpus(records):
    blind = load(ROOT / "blind")
    assert not {r.id for r in blind} & {r.id for r in records}
    bodies = {r.body for r in records}
    assert not [r.id for r in blind if r.body in bodies]


def test_every_mail_builds_and_parses(records):
    shapes = Counter()
    for record in records:
        mail = parse_mail(to_mime(record))
        shapes[record.shape] += 1
        assert mail.body.strip(), record.id
        assert mail.message_id == f"<{record.id}@corpus.triage.invalid>" or mail.message_id
    assert {"plain", "html", "alternative", "latin1", "cp1252", "base64", "qp", "flowed", "dsn"} <= set(shapes)


def test_split_is_fixed_by_id_and_near_one_in_five(records):
    assert split_of("a-001") == split_of("a-001")
    share = sum(r.split == "test" for r in records) / len(records)
    assert 0.15 < share < 0.25


@pytest.mark.parametrize("text,problem", [
    ("no header line\n", "text before the first"),
    ("##### Bad_ID\nFrom: a@b.de\n\nx\n", "bad id"),
    ("##### a-1\nFrom: a@b.de\nTopic: spam\nProduct: unknown\nLanguage: de\nTechnical: no\nLegal: no\n\nx\n", "topic must be one of"),
    ("##### a-1\nFrom: a@b.de\nTopic: billing\nProduct: unknown\nLanguage: fr\nTechnical: no\nLegal: no\n\nx\n", "language must be one of"),
    ("##### a-1\nFrom: a@b.de\nTopic: automated\nProduct: unknown\nLanguage: de\nTechnical: no\nLegal: no\n\nx\n", "skip must be one of"),
    ("##### a-1\nFrom: a@b.de\nTopic: billing\nProduct: unknown\nLanguage: de\nTechnical: no\nLegal: no\nShape: fancy\n\nx\n", "unknown shape"),
])
def test_batch_errors_name_file_mail_and_problem(tmp_path: Path, text, problem):
    path = tmp_path / "batch.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError, match=problem) as info:
        read_batch(path)
    assert str(path) in str(info.value)
