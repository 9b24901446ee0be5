#!/usr/bin/env bash
# The whole daemon on this machine, without a mail server: two sample inboxes
# (local Maildirs) are triaged once, and the script shows where the forwards,
# drafts and alerts went.
#
#   python3 -m venv .venv && .venv/bin/pip install -e . && examples/demo.sh
#
# Everything it writes is under examples/demo/ (removed and made anew on each run).
# TRIAGE=/path/to/triage picks the command; default: .venv/bin/triage, else triage on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
demo="$here/demo"
config="$here/maildir.toml"

triage="${TRIAGE:-}"
if [ -z "$triage" ]; then
    if [ -x "$root/.venv/bin/triage" ]; then
        triage="$root/.venv/bin/triage"
    elif command -v triage >/dev/null 2>&1; then
        triage="$(command -v triage)"
    else
        echo "demo: no triage command found; install it first:" >&2
        echo "  python3 -m venv .venv && .venv/bin/pip install -e ." >&2
        exit 2
    fi
fi

if [ ! -f "$root/models/triage.skops" ]; then
    echo "demo: no model in models/: training one first (about a minute)"
    "$triage" train --quiet >/dev/null
fi

# Fresh inboxes: each sample mail is delivered as a new Maildir message, in order.
rm -rf "$demo"
stamp=$(date +%s)
for inbox in support sales; do
    mkdir -p "$demo/inbox/$inbox/cur" "$demo/inbox/$inbox/new" "$demo/inbox/$inbox/tmp"
    n=0
    for mail in "$here/sample-mails/$inbox"/*.eml; do
        n=$((n + 1))
        key="$((stamp + n)).M${n}P$$Q${n}.demo"
        cp "$mail" "$demo/inbox/$inbox/tmp/$key"
        mv "$demo/inbox/$inbox/tmp/$key" "$demo/inbox/$inbox/new/$key"
    done
    echo "demo: delivered $n sample mails into $demo/inbox/$inbox"
done

echo "demo: $triage run --config $config --once"
"$triage" run --config "$config" --once --log-level "${LOG_LEVEL:-warning}"

# What came out. Python's standard library decodes the (MIME-encoded) subjects.
python3 - "$demo" <<'PY'
import sys
from email import message_from_binary_file, policy
from pathlib import Path

demo = Path(sys.argv[1])


def subject(path: Path) -> str:
    with open(path, "rb") as handle:
        return str(message_from_binary_file(handle, policy=policy.default)["Subject"] or "(no subject)")


def messages(maildir: Path) -> list[Path]:
    return sorted(p for sub in ("new", "cur") if (maildir / sub).is_dir() for p in (maildir / sub).iterdir())


groups = demo / "groups"
print(f"\nForwards and alerts (one Maildir per recipient under {groups}):")
for box in sorted(p for p in groups.iterdir() if p.is_dir()) if groups.is_dir() else []:
    for path in messages(box):
        print(f"  {box.name:<30} {subject(path)}")
def keywords(base: Path, path: Path) -> str:
    names = {}
    if (base / "dovecot-keywords").exists():
        for line in (base / "dovecot-keywords").read_text().splitlines():
            index, _, name = line.partition(" ")
            names[chr(97 + int(index))] = name
    flags = path.name.partition(":2,")[2]
    words = [names.get(c, c) for c in flags if c.islower()] + (["\\Flagged"] if "F" in flags else [])
    return " ".join(words) or "(not triaged)"


for inbox in ("support", "sales"):
    base = demo / "inbox" / inbox
    print(f"\nOriginals in inbox {inbox} ({base}) and their keywords:")
    for path in messages(base):
        print(f"  {subject(path)[:60]:<60} {keywords(base, path)}")
    drafts = messages(base / ".Drafts")
    print(f"Drafts in {base / '.Drafts'} (never sent): {len(drafts)}")
    for path in drafts:
        print(f"  {subject(path)}")
    quarantined = messages(base / ".Quarantine")
    if quarantined:
        print(f"Quarantined in {inbox}: {len(quarantined)}")
print(f"\nLedger: {demo / 'state' / 'ledger.sqlite3'}")
PY
