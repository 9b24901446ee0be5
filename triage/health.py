"""Is the daemon alive and connected? The health check for Docker's HEALTHCHECK and monitoring.

``python -m triage.health --config FILE`` reads the heartbeat that
``triage run`` rewrites every few seconds beside its ledger (see
`triage.daemon.heartbeat_path`) and exits 0 when it is fresh and every inbox
is working or waiting for mail, 1 otherwise, with one line saying why.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from triage.config import load_config
from triage.daemon import heartbeat_path
from triage.errors import TriageError

MAX_AGE = 60.0  # seconds: the daemon rewrites the heartbeat every 5 s, so this means it hangs or is gone
DOWN_AFTER = 300.0  # seconds an inbox may stay unreachable (reconnecting with backoff) before it counts as down
UNREACHABLE = ("connecting", "backoff", "given-up")


@dataclass(frozen=True)
class Health:
    ok: bool
    reason: str


def check(path: Path, max_age: float = MAX_AGE, down_after: float = DOWN_AFTER, now: float | None = None) -> Health:
    """Judge the heartbeat file at ``path``."""
    now = time.time() if now is None else now
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        beat = float(data["time"])
        inboxes = dict(data.get("inboxes", {}))
    except FileNotFoundError:
        return Health(False, f"no heartbeat at {path}: the daemon is not running (or not yet)")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Health(False, f"unreadable heartbeat {path}: {exc}")
    age = now - beat
    if age > max_age:
        return Health(False, f"heartbeat is {age:.0f} s old (limit {max_age:g} s): the daemon hangs or has stopped")
    if data.get("stopping"):
        return Health(False, "the daemon is shutting down")
    down = []
    for name, inbox in sorted(inboxes.items()):
        state = inbox.get("state", "?")
        since = float(inbox.get("since") or now)
        if state == "stopped" or (state in UNREACHABLE and now - since > down_after):
            error = inbox.get("last_error") or "no error recorded"
            down.append(f"inbox {name} {state} for {now - since:.0f} s ({error})")
    if down:
        return Health(False, "; ".join(down))
    states = ", ".join(f"{name} {inbox.get('state', '?')}" for name, inbox in sorted(inboxes.items()))
    return Health(True, f"ok: heartbeat {age:.0f} s old; {states}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m triage.health",
                                     description="Exit 0 when the triage daemon is alive and its inboxes reachable.")
    parser.add_argument("--config", type=Path, required=True, help="the configuration the daemon runs with")
    parser.add_argument("--max-age", type=float, default=MAX_AGE,
                        help="oldest acceptable heartbeat in seconds (default: %(default)s)")
    parser.add_argument("--down-after", type=float, default=DOWN_AFTER,
                        help="seconds an inbox may stay unreachable (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        path = heartbeat_path(load_config(args.config))
    except TriageError as exc:
        print(f"unhealthy: {exc}")
        return 1
    health = check(path, args.max_age, args.down_after)
    print(health.reason if health.ok else f"unhealthy: {health.reason}")
    return 0 if health.ok else 1


if __name__ == "__main__":
    sys.exit(main())
