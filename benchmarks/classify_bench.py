"""Throughput and peak memory of `classify` next to mail-parser alone, over the same mails, in one run.

    python benchmarks/classify_bench.py [--mails 2400]

Each measurement runs in a fresh subprocess so that its peak resident
memory (ru_maxrss) is its own. Prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


BATCH = 100


def _write_mails(folder: Path, count: int) -> None:
    """``count`` .eml files: the corpus and the blind set, repeated as needed."""
    from triage.corpus import load, to_mime

    records = load(ROOT / "corpus" / "mails") + load(ROOT / "corpus" / "blind")
    raws = [to_mime(r) for r in records]
    for i in range(count):
        (folder / f"{i:05d}.eml").write_bytes(raws[i % len(raws)])


def _batches(folder: Path):
    """The mails read from disk a batch at a time, as `triage classify` reads a folder."""
    files = sorted(folder.glob("*.eml"))
    for i in range(0, len(files), BATCH):
        yield [path.read_bytes() for path in files[i:i + BATCH]]


def _worker(kind: str, folder: Path) -> dict:
    import resource

    count = len(list(folder.glob("*.eml")))
    if kind == "parse":
        import mailparser

        start = time.perf_counter()
        for batch in _batches(folder):
            for raw in batch:
                mailparser.parse_from_bytes(raw)
        elapsed = time.perf_counter() - start
        extra = {}
    else:
        from triage import language
        from triage.cli import DEFAULT_CONFIG
        from triage.config import load_config
        from triage.engine import Engine

        engine = Engine(load_config(DEFAULT_CONFIG))
        calls = {"langdetect": 0}
        original = language._langdetect

        def counting(*args):
            calls["langdetect"] += 1
            return original(*args)

        language._langdetect = counting
        engine.triage_raw(next(_batches(folder))[:20])  # warm-up: langdetect profiles, first sklearn calls
        calls["langdetect"] = 0
        start = time.perf_counter()
        for batch in _batches(folder):
            engine.triage_raw(batch)
        elapsed = time.perf_counter() - start
        extra = {"langdetect_share": calls["langdetect"] / count}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"kind": kind, "mails": count, "seconds": elapsed, "per_second": count / elapsed,
            "ms_per_mail": 1000 * elapsed / count, "peak_rss_mb": peak_mb, **extra}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mails", type=int, default=2400)
    parser.add_argument("--worker", choices=("parse", "triage"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker, args.folder)))
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        _write_mails(Path(tmp), args.mails)
        for kind in ("parse", "triage"):
            out = subprocess.run([sys.executable, __file__, "--worker", kind, "--folder", tmp],
                                 capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    parse, triage = rows
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
          f"{_cpu()}")
    print(f"{'measurement':<34}{'mails':>7}{'mails/s':>10}{'ms/mail':>9}{'peak RSS MB':>13}")
    print(f"{'mail-parser alone':<34}{parse['mails']:>7}{parse['per_second']:>10.0f}{parse['ms_per_mail']:>9.2f}"
          f"{parse['peak_rss_mb']:>13.0f}")
    print(f"{'triage classify (whole decision)':<34}{triage['mails']:>7}{triage['per_second']:>10.0f}"
          f"{triage['ms_per_mail']:>9.2f}{triage['peak_rss_mb']:>13.0f}")
    print(f"cost ratio triage/parse: {triage['ms_per_mail'] / parse['ms_per_mail']:.2f} (target <= 3); "
          f"langdetect consulted for {100 * triage['langdetect_share']:.0f} % of mails")
    return 0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f", {len([l for l in Path('/proc/cpuinfo').read_text().splitlines() if l.startswith('processor')])} cores"
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    raise SystemExit(main())
