"""The health check's verdicts on the daemon's heartbeat file."""

from __future__ import annotations

import json

import pytest

from triage.health import check

NOW = 1_800_000_000.0


def beat(tmp_path, age: float = 1.0, stopping: bool = False, **inboxes):
    path = tmp_path / "ledger.sqlite3.heartbeat.json"
    states = {name: {"state": state, "since": NOW - since, "last_error": "connection refused"}
              for name, (state, since) in inboxes.items()}
    path.write_text(json.dumps({"pid": 1, "time": NOW - age, "stopping": stopping, "inboxes": states}))
    return path


@pytest.mark.parametrize("age, stopping, inboxes, ok, words", [
    (2, False, {"support": ("idle", 500), "sales": ("working", 3)}, True, "ok"),
    (2, False, {"support": ("backoff", 100), "sales": ("idle", 3)}, True, "ok"),  # a short outage is tolerated
    (2, False, {"support": ("backoff", 400), "sales": ("idle", 3)}, False, "support backoff"),
    (2, False, {"support": ("given-up", 400)}, False, "connection refused"),
    (2, False, {"support": ("stopped", 1)}, False, "support stopped"),
    (120, False, {"support": ("idle", 500)}, False, "old"),
    (2, True, {"support": ("idle", 500)}, False, "shutting down"),
])
def test_verdicts(tmp_path, age, stopping, inboxes, ok, words):
    health = check(beat(tmp_path, age, stopping, **inboxes), now=NOW)
    assert health.ok is ok
    assert words in health.reason


def test_missing_or_broken_heartbeat(tmp_path):
    path = tmp_path / "none.json"
    assert not check(path).ok and "not running" in check(path).reason
    path.write_text("{not json")
    assert not check(path).ok and "unreadable" in check(path).reason
