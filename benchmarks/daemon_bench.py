"""How fast the daemon is: IDLE latency and backlog throughput against a private Dovecot and an SMTP sink.

    python benchmarks/daemon_bench.py [--latency-mails 200] [--backlog-mails 5000]

Needs root and Dovecot (``apt-get install dovecot-imapd dovecot-lmtpd``), like
the Dovecot tests, whose server harness (tests/dovecot.py) and SMTP sink
(tests/smtp_sink.py) it reuses. The daemon runs as ``python -m triage run``
in a subprocess, exactly as in production, with two IMAP inboxes (support
over IMAPS, sales over STARTTLS) and SMTP delivery to the sink.

1. Latency: mails arrive one at a time by LMTP, alternating between the
   inboxes; each is timed from the end of the LMTP delivery to the forward
   arriving at the SMTP sink (IDLE notice + fetch + triage + SMTP). Dovecot
   itself waits 0.5 s before it tells an IDLE client about new mail.
2. Throughput: a backlog (corpus mails, each with its own Message-ID) is put
   into both inboxes' Maildirs before the daemon starts; ``triage run --once``
   works it off. Reported: mails per second over the backlog (from the
   daemon's own progress lines) and the wall time including start-up, with
   the daemon process's peak RSS.

Not run by the test suite.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from daemon_helpers import imap_config_text  # noqa: E402
from dovecot import Dovecot, missing_requirement  # noqa: E402
from smtp_sink import SmtpSink  # noqa: E402
from triage.corpus import load, to_mime  # noqa: E402


def corpus_mails() -> list[bytes]:
    """Every corpus mail that is not automated (automated mail is filed without a forward)."""
    return [to_mime(record) for record in load() if record.topic != "automated"]


def with_message_id(raw: bytes, value: str) -> bytes:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    head = re.sub(rb"(?im)^message-id:.*$", b"Message-ID: " + value.encode(), head, count=1)
    if b"Message-ID: " + value.encode() not in head:
        head = b"Message-ID: " + value.encode() + b"\r\n" + head
    return head + sep + body


def high_water_kib(pid: int) -> int:
    """The peak resident set size (VmHWM) of a running process, in KiB; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def start_daemon(config: Path, log: Path, *args: str) -> subprocess.Popen:
    with open(log, "ab") as handle:
        return subprocess.Popen([sys.executable, "-m", "triage", "run", "--config", str(config), *args],
                                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=handle)


def wait_until(predicate, timeout: float, interval: float = 0.001) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out")
        time.sleep(interval)


def latency(server: Dovecot, sink: SmtpSink, work: Path, mails: list[bytes], count: int) -> tuple[list[float], int]:
    users = {"support": server.add_user(), "sales": server.add_user()}
    config = work / "latency.toml"
    config.write_text(imap_config_text(server, users, sink.port, work / "latency-state"))
    log = work / "latency.log"
    process = start_daemon(config, log)
    try:
        wait_until(lambda: log.read_text().count("connected (uidvalidity") >= 2, 120, 0.05)
        # Warm up (first TLS session, first draft folder …) with one mail per inbox.
        samples: list[float] = []
        missed = 0
        i = 0
        while len(samples) < count:
            user = users[("support", "sales")[i % 2]]
            raw = with_message_id(mails[(i * 7) % len(mails)], f"<latency-{i}@bench.invalid>")
            before = len(sink.received)
            server.deliver(user, raw)
            arrived = time.monotonic()
            try:
                wait_until(lambda: len(sink.received) > before, 5)
            except TimeoutError:  # taken for automated mail by the rules: filed, not forwarded
                missed += 1
            else:
                if i >= 2:
                    samples.append(time.monotonic() - arrived)
            i += 1
            time.sleep(0.05)
        return samples, missed
    finally:
        process.terminate()
        process.wait(30)


def throughput(server: Dovecot, sink: SmtpSink, work: Path, mails: list[bytes], count: int) -> dict[str, float]:
    users = {"support": server.add_user(), "sales": server.add_user()}
    for user in users.values():
        server.messages(user)  # the first login creates the Maildir
    uid, gid = os.stat(server.maildir(users["support"])).st_uid, os.stat(server.maildir(users["support"])).st_gid
    stamp = int(time.time()) - count
    for i in range(count):
        user = users[("support", "sales")[i % 2]]
        maildir = server.maildir(user)
        key = f"{stamp + i}.M{i}P{os.getpid()}Q{i}.bench"
        path = maildir / "new" / key
        path.write_bytes(with_message_id(mails[i % len(mails)], f"<backlog-{i}@bench.invalid>"))
        os.chown(path, uid, gid)
    config = work / "backlog.toml"
    config.write_text(imap_config_text(server, users, sink.port, work / "backlog-state",
                                        progress_every=max(1, min(500, count // 4))))
    log = work / "backlog.log"
    before = len(sink.received)
    started = time.monotonic()
    process = start_daemon(config, log, "--once")
    peak = 0
    while process.poll() is None:  # VmHWM is the process's own high-water mark: the last reading is its peak
        peak = max(peak, high_water_kib(process.pid))
        time.sleep(0.1)
    status = process.wait()
    wall = time.monotonic() - started
    if status != 0:
        raise RuntimeError(f"triage run --once exited {status}:\n{log.read_text()[-3000:]}")
    text = log.read_text()
    spans = [float(m.group(2)) for m in re.finditer(r"backlog of (\d+) mails worked off in ([\d.]+) s", text)]
    if len(spans) != 2:
        raise RuntimeError(f"expected a backlog line per inbox in the log:\n{text[-3000:]}")
    return {
        "mails": count,
        "sent": len(sink.received) - before,
        "backlog_seconds": max(spans),
        "rate": count / max(spans),
        "wall": wall,
        "peak_rss_mib": peak / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-mails", type=int, default=200)
    parser.add_argument("--backlog-mails", type=int, default=5000)
    args = parser.parse_args(argv)
    reason = missing_requirement()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    mails = corpus_mails()
    server = Dovecot.create()
    sink = SmtpSink()
    work = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    try:
        server.start()
        sink.start()
        print(f"latency: {args.latency_mails} mails, one at a time …", file=sys.stderr, flush=True)
        samples, missed = latency(server, sink, work, mails, args.latency_mails)
        print(f"throughput: a backlog of {args.backlog_mails} mails …", file=sys.stderr, flush=True)
        result = throughput(server, sink, work, mails, args.backlog_mails)
    finally:
        sink.stop()
        server.destroy()
        shutil.rmtree(work, ignore_errors=True)
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
    rows = [
        ("IDLE latency, arrival → forward at the SMTP sink", f"n = {len(samples)}"
                                                             + (f" ({missed} not forwarded)" if missed else "")),
        ("  median", f"{statistics.median(samples) * 1000:.0f} ms"),
        ("  p95", f"{p95 * 1000:.0f} ms"),
        ("  max", f"{max(samples) * 1000:.0f} ms"),
        ("Backlog throughput, two inboxes, triage run --once", f"n = {result['mails']} mails"),
        ("  mails per second (backlog)", f"{result['rate']:.1f}"),
        ("  backlog time", f"{result['backlog_seconds']:.1f} s"),
        ("  wall time incl. start-up", f"{result['wall']:.1f} s"),
        ("  messages sent (forwards and alerts)", f"{result['sent']}"),
        ("  peak RSS of the daemon process", f"{result['peak_rss_mib']:.0f} MiB"),
    ]
    width = max(len(name) for name, _ in rows) + 2
    print(f"{'measure':<{width}}value")
    print("-" * (width + 16))
    for name, value in rows:
        print(f"{name:<{width}}{value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
