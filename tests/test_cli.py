"""The `triage classify` contract of the SPEC, over real .eml files, through the installed entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from triage.cli import JSON_KEYS
from triage.corpus import load, to_mime

TOPICS = {"influma", "blog2social", "prgateway-sales", "prgateway-support", "billing", "press-release", "deletion", "unsorted"}


@pytest.fixture(scope="module")
def mail_folder(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("mails")
    records = [r for r in load() if r.split == "test"][:40]
    for record in records:
        (folder / f"{record.id}.eml").write_bytes(to_mime(record))
    (folder / "zz-broken.eml").write_bytes(b"\x00\x01 this is not a mail at all")
    return folder, {r.id: r.topic for r in records}


def _classify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "triage", "classify", *args], capture_output=True, text=True, timeout=300)


def test_classify_json_prints_one_valid_line_per_mail(mail_folder):
    folder, topics = mail_folder
    result = _classify("--json", str(folder))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().split("\n")
    assert len(lines) == len(topics) + 1
    rows = [json.loads(line) for line in lines]
    for row in rows:
        assert set(JSON_KEYS) <= set(row)
        assert row["file"].startswith(str(folder))
        assert row["language"] in ("de", "en")
        assert row["topic"] in TOPICS
        assert row["product"] in ("prgateway", "blog2social", "influma", "unknown")
        assert 0.0 <= row["confidence"] <= 1.0
        assert isinstance(row["urls"], list) and isinstance(row["missing_details"], list)
        assert row["skipped"] in (None, "auto-reply", "bounce", "list", "loop")
        assert isinstance(row["technical_problem"], bool) and isinstance(row["legal_warning"], bool)
        if not row["technical_problem"]:
            assert row["missing_details"] == []
    broken = rows[-1]
    assert broken["file"].endswith("zz-broken.eml")
    assert broken["topic"] == "unsorted" and "error" in broken
    by_id = {Path(r["file"]).stem: r for r in rows[:-1]}
    automated = [i for i, t in topics.items() if t == "automated"]
    assert all(by_id[i]["skipped"] and by_id[i]["draft"] is None and by_id[i]["group"] is None for i in automated)
    customer = {i: t for i, t in topics.items() if t != "automated"}
    correct = sum(by_id[i]["topic"] == t for i, t in customer.items())
    assert correct >= 0.85 * len(customer)


def test_classify_table_and_missing_file(mail_folder, tmp_path):
    folder, _ = mail_folder
    first = sorted(folder.glob("*.eml"))[0]
    result = _classify(str(first), str(tmp_path / "nope.eml"))
    assert result.returncode == 0
    assert "topic" in result.stdout.splitlines()[0]
    assert first.name in result.stdout
    assert "cannot read file" in result.stdout


def test_help_and_bad_config(tmp_path):
    assert "classify" in subprocess.run([sys.executable, "-m", "triage", "--help"], capture_output=True, text=True).stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[routing]\n", encoding="utf-8")
    result = _classify("--config", str(bad), str(tmp_path))
    assert result.returncode == 2
    assert f"{bad}: groups: missing table" in result.stderr
