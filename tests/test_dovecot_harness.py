"""The Dovecot test harness itself: it must never let a CI run lose its Dovecot tests silently."""

from __future__ import annotations

import pytest

import dovecot as harness
from dovecot import dovecot, dovecot_user  # noqa: F401  (pytest fixtures)


def test_a_missing_dovecot_fails_in_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setattr(harness, "DOVECOT", None)
    reason = harness.missing_requirement()
    assert reason is not None and "dovecot is not installed" in reason
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run in CI: dovecot is not installed"):
        harness.unavailable(reason)
    for value in ("", "false", "1"):
        monkeypatch.setenv("CI", value)
        with pytest.raises(pytest.skip.Exception, match="dovecot is not installed"):
            harness.unavailable(reason)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        harness.unavailable(reason)


@pytest.mark.dovecot
def test_users_added_at_runtime_can_log_in_and_receive_mail(dovecot):
    group = dovecot.add_user("group-influma")
    dovecot.deliver([group, "support"], b"Subject: an beide\r\n\r\nHallo\r\n")
    assert [m.raw.endswith(b"Hallo\r\n") for m in dovecot.messages(group)] == [True]
    assert any(m.raw.endswith(b"Hallo\r\n") for m in dovecot.messages("support"))
    with pytest.raises(ValueError):
        dovecot.add_user("group-influma")


@pytest.mark.dovecot
def test_restart_keeps_the_mail(dovecot, dovecot_user):
    uid = dovecot.append(dovecot_user, b"Subject: bleibt\r\n\r\nx\r\n", flags=["$Triaged"])
    dovecot.restart()
    assert dovecot.flags(dovecot_user, uid) == {"$Triaged"}
    dovecot.kill()
    assert not dovecot.is_running()
    dovecot.ensure_running()
    assert dovecot.flags(dovecot_user, uid) == {"$Triaged"}
