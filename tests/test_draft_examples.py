"""The example drafts in docs/drafts/ are what the current code renders."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_example_drafts_are_current(engine):
    spec = importlib.util.spec_from_file_location("render_draft_examples", ROOT / "scripts" / "render_draft_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rendered = module.render(engine)
    assert len(rendered) == 8
    for name, text in rendered.items():
        stored = (ROOT / "docs" / "drafts" / name).read_text(encoding="utf-8")
        assert stored == text, f"docs/drafts/{name} is stale: run python scripts/render_draft_examples.py"
        assert "(no draft)" not in text
