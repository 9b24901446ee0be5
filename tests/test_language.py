"""Language detection: de or en, deterministic, robust on short and mixed texts."""

from __future__ import annotations

import pytest

from triage import language
from triage.language import detect_language


@pytest.mark.parametrize("text,expected", [
    ("Guten Tag, leider kann ich mich seit gestern nicht mehr einloggen. Was kann ich tun?", "de"),
    ("Hello, I cannot log in since yesterday. What can I do about it?", "en"),
    ("rechnung bitte nochmal schicken", "de"),
    ("invoice pls", "en"),
    ("Hallo zusammen,\n\nI tried to connect my Instagram account but it fails every time with an error.", "en"),
    ("Hi team,\nich habe eine Frage zu meiner Rechnung vom März, die Summe stimmt nicht.", "de"),
    ("Grüezi, d Rechnig isch no nid cho, chönd Si die bitte nomol schicke?", "de"),
    ("Bonjour, je voudrais supprimer mon communiqué de presse.", "en"),
    ("", "en"),
    ("12345 !!!", "en"),
])
def test_detect_language(text, expected):
    assert detect_language(text) == expected


def test_repeated_calls_agree():
    text = "Bitte löschen Sie meinen Beitrag"
    assert len({detect_language(text) for _ in range(20)}) == 1


def test_fast_path_and_langdetect_agree_on_clear_text(monkeypatch):
    text = "Wir haben die Rechnung noch nicht bekommen und würden sie gerne noch einmal haben, bitte an unsere neue Adresse."
    fast = detect_language(text)
    monkeypatch.setattr(language, "FAST_MIN_WORDS", 10_000)  # force langdetect
    assert detect_language(text) == fast == "de"
