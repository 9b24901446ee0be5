"""The labelled corpus: compact batch files (see corpus/FORMAT.md) turned into real MIME.

``python -m triage.corpus labels`` rewrites ``corpus/labels.csv`` from the
batch files; ``python -m triage.corpus build DIR`` writes every mail as a
``.eml`` file (with ``labels.csv`` beside them) for ``triage classify`` or
the benchmarks.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import html
import io
import quopri
import re
import sys
import textwrap
from dataclasses import dataclass, field
from email.header import Header
from email.utils import formataddr, getaddresses
from pathlib import Path

from triage.errors import CorpusError
from triage.images import make_image

TOPICS = (
    "influma", "blog2social", "prgateway-sales", "prgateway-support",
    "billing", "press-release", "deletion",
)
LABELS = TOPICS + ("automated",)
PRODUCTS = ("prgateway", "blog2social", "influma", "unknown")
DETAIL_KEYS = ("os", "browser", "connection", "steps", "image", "reachability", "urgency")
SKIP_REASONS = ("auto-reply", "bounce", "list", "loop")
SHAPES = ("plain", "html", "alternative", "latin1", "cp1252", "base64", "qp", "flowed", "dsn")
LABEL_FIELDS = ("topic", "product", "language", "skip", "technical", "legal", "details", "urls")
CSV_FIELDS = ("id", "split") + LABEL_FIELDS
TEST_SHARE = 5  # one mail in five is in the fixed test split

ROOT = Path(__file__).resolve().parent.parent / "corpus"
_ADDRESS_HEADERS = {"from", "to", "cc", "reply-to", "bcc", "sender"}


@dataclass(frozen=True)
class Record:
    """One mail of a batch file: its headers, steering lines, labels and body."""

    id: str
    source: str
    headers: tuple[tuple[str, str], ...]
    shape: str
    attachments: tuple[str, ...]
    labels: dict[str, str] = field(hash=False, compare=False)
    body: str = ""

    @property
    def split(self) -> str:
        return split_of(self.id)

    @property
    def topic(self) -> str:
        return self.labels["topic"]

    def label_list(self, name: str) -> list[str]:
        return [item.strip() for item in self.labels.get(name, "").split(",") if item.strip()]


def split_of(record_id: str) -> str:
    """``test`` or ``train``, fixed by the id alone so the split never moves."""
    digest = int(hashlib.sha256(record_id.encode()).hexdigest()[:8], 16)
    return "test" if digest % TEST_SHARE == 0 else "train"


def read_batch(path: Path) -> list[Record]:
    """Read one batch file; raise `CorpusError` naming file, mail and problem."""
    text = path.read_text(encoding="utf-8")
    chunks = re.split(r"^##### ", text, flags=re.M)
    if chunks[0].strip():
        raise CorpusError(f"{path}: text before the first '##### id' line")
    records = []
    for chunk in chunks[1:]:
        record_id, _, rest = chunk.partition("\n")
        record_id = record_id.strip()
        where = f"{path}: mail {record_id}"
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", record_id):
            raise CorpusError(f"{where}: bad id")
        head, sep, body = rest.partition("\n\n")
        if not sep:
            raise CorpusError(f"{where}: no empty line between headers and body")
        headers, labels, attachments = [], {}, []
        shape = "plain"
        for line in head.split("\n"):
            match = re.match(r"([A-Za-z][A-Za-z0-9-]*):[ \t]?(.*)$", line)
            if not match:
                raise CorpusError(f"{where}: bad header line {line!r}")
            name, value = match.group(1), match.group(2).strip()
            key = name.lower()
            if key in LABEL_FIELDS:
                labels[key] = value
            elif key == "shape":
                shape = value.lower()
            elif key == "attach":
                attachments.append(value)
            else:
                headers.append((name, value))
        _check_labels(where, labels, shape)
        records.append(Record(record_id, str(path), tuple(headers), shape, tuple(attachments), labels, body.rstrip("\n") + "\n"))
    return records


def _check_labels(where: str, labels: dict[str, str], shape: str) -> None:
    def need(name: str, allowed: tuple[str, ...]) -> None:
        if labels.get(name) not in allowed:
            raise CorpusError(f"{where}: {name} must be one of {', '.join(allowed)}, not {labels.get(name)!r}")

    need("topic", LABELS)
    need("product", PRODUCTS)
    need("language", ("de", "en"))
    need("technical", ("yes", "no"))
    need("legal", ("yes", "no"))
    if labels["topic"] == "automated":
        need("skip", SKIP_REASONS)
    if shape not in SHAPES:
        raise CorpusError(f"{where}: unknown shape {shape!r}")
    for key in filter(None, (d.strip() for d in labels.get("details", "").split(","))):
        if key not in DETAIL_KEYS:
            raise CorpusError(f"{where}: unknown detail {key!r}")


def load(folder: Path | str = ROOT / "mails") -> list[Record]:
    """Every record of every batch file in ``folder``, sorted by id; ids must be unique."""
    folder = Path(folder)
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise CorpusError(f"{folder}: no batch files (*.txt)")
    records: dict[str, Record] = {}
    for path in files:
        for record in read_batch(path):
            if record.id in records:
                raise CorpusError(f"{path}: mail {record.id}: id also used in {records[record.id].source}")
            records[record.id] = record
    return [records[key] for key in sorted(records)]


# --- MIME -----------------------------------------------------------------

def to_mime(record: Record) -> bytes:
    """The record as a real RFC 5322 message (CRLF line ends)."""
    headers = list(record.headers)
    names = {name.lower() for name, _ in headers}
    if "message-id" not in names:
        headers.append(("Message-ID", f"<{record.id}@corpus.triage.invalid>"))
    if "date" not in names:
        day = int(hashlib.sha256(record.id.encode()).hexdigest()[:4], 16) % 28 + 1
        headers.append(("Date", f"Tue, {day:02d} May 2025 10:{day:02d}:00 +0200"))
    if "to" not in names:
        headers.append(("To", "support@pr-gateway.de"))
    lines = [_encode_header(name, value) for name, value in headers]
    lines.append("MIME-Version: 1.0")
    body_part = _body_part(record)
    if record.attachments:
        boundary = f"mixed-{record.id}"
        parts = [body_part] + [_attachment_part(spec, record.id) for spec in record.attachments]
        lines.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
        message = "\r\n".join(lines) + "\r\n\r\n" + _join_parts(parts, boundary)
    else:
        message = "\r\n".join(lines) + "\r\n" + body_part
    return message.encode("utf-8", errors="surrogateescape") if isinstance(message, str) else message


def _encode_header(name: str, value: str) -> str:
    if name.lower() in _ADDRESS_HEADERS:
        pairs = getaddresses([value])
        value = ", ".join(formataddr(pair, charset="utf-8") for pair in pairs)
        return f"{name}: {value}"
    if value.isascii():
        return f"{name}: {value}"
    return f"{name}: {Header(value, 'utf-8', header_name=name).encode()}"


def _body_part(record: Record) -> str:
    """Content headers, an empty line, and the encoded body, as text with CRLFs."""
    body = record.body.replace("\r\n", "\n")
    shape = record.shape
    if shape == "html":
        return _part("text/html; charset=utf-8", "quoted-printable", _qp(body))
    if shape == "alternative":
        boundary = f"alt-{record.id}"
        plain = _part("text/plain; charset=utf-8", "quoted-printable", _qp(body))
        rich = _part("text/html; charset=utf-8", "quoted-printable", _qp(_as_html(body)))
        return f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n' + _join_parts([plain, rich], boundary)
    if shape == "latin1":
        return _part("text/plain; charset=iso-8859-1", "quoted-printable", _qp(body, "latin-1"))
    if shape == "cp1252":
        # Declared as iso-8859-1 on purpose: the commonest broken declaration.
        return _part("text/plain; charset=iso-8859-1", "8bit", body.encode("cp1252", errors="replace").decode("latin-1"))
    if shape == "base64":
        encoded = base64.encodebytes(body.encode("utf-8")).decode("ascii")
        return _part("text/plain; charset=utf-8", "base64", encoded)
    if shape == "qp":
        return _part("text/plain; charset=utf-8", "quoted-printable", _qp(body))
    if shape == "flowed":
        return _part("text/plain; charset=utf-8; format=flowed", "quoted-printable", _qp(_flow(body)))
    if shape == "dsn":
        return _dsn(record, body)
    return _part("text/plain; charset=utf-8", "8bit", body)


def _part(content_type: str, encoding: str, payload: str) -> str:
    payload = payload.replace("\r\n", "\n").replace("\n", "\r\n")
    return f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n{payload}"


def _join_parts(parts: list[str], boundary: str) -> str:
    inner = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
    return inner + f"--{boundary}--\r\n"


def _qp(text: str, charset: str = "utf-8") -> str:
    return quopri.encodestring(text.encode(charset, errors="replace")).decode("ascii")


def _as_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    inner = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>' + chr(10))}</p>\n" for p in paragraphs)
    return f"<html><body style=\"font-family:Calibri\">\n{inner}</body></html>\n"


def _flow(text: str) -> str:
    out = []
    for line in text.split("\n"):
        if len(line) <= 72 or line.startswith(">"):
            out.append(line)
            continue
        wrapped = textwrap.wrap(line, 72, break_long_words=False, drop_whitespace=False)
        out.extend(piece if i == len(wrapped) - 1 else piece.rstrip(" ") + " " for i, piece in enumerate(wrapped))
    return "\n".join(out)


def _dsn(record: Record, body: str) -> str:
    boundary = f"report-{record.id}"
    recipient = next((v for n, v in record.headers if n.lower() == "x-original-to"), "customer@example.invalid")
    status = "Reporting-MTA: dns; mx.example.invalid\r\n\r\nFinal-Recipient: rfc822; " + recipient + "\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    parts = [
        _part("text/plain; charset=utf-8", "8bit", body),
        f"Content-Type: message/delivery-status\r\n\r\n{status}",
        "Content-Type: text/rfc822-headers\r\n\r\nFrom: support@pr-gateway.de\r\nSubject: Ihre Anfrage\r\n",
    ]
    return (
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n\r\n'
        + _join_parts(parts, boundary)
    )


def _attachment_part(spec: str, record_id: str) -> str:
    """``name type/subtype [WxH] [bytes]`` as a base64 attachment part."""
    fields = spec.split()
    if len(fields) < 2:
        raise CorpusError(f"mail {record_id}: Attach needs a name and a type: {spec!r}")
    name, content_type = fields[0], fields[1]
    width = height = 0
    size = 2048
    for extra in fields[2:]:
        if re.fullmatch(r"\d+x\d+", extra):
            width, height = (int(n) for n in extra.split("x"))
        elif extra.isdigit():
            size = int(extra)
    size = min(size, 400_000)  # keep generated corpora small; the header carries the dimensions
    fmt = {"image/png": "PNG", "image/jpeg": "JPEG", "image/jpg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}.get(content_type.lower())
    if fmt and width and height:
        data = make_image(fmt, width, height, size)
    else:
        seed = hashlib.sha256(f"{record_id}/{name}".encode()).digest()
        data = (seed * (size // len(seed) + 1))[:size]
    encoded = base64.encodebytes(data).decode("ascii")
    quoted = name.replace('"', "")
    return (
        f'Content-Type: {content_type}; name="{quoted}"\r\n'
        f'Content-Disposition: attachment; filename="{quoted}"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}"
    )


# --- labels.csv -------------------------------------------------------------

def labels_csv(records: list[Record]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({"id": record.id, "split": record.split, **{k: record.labels.get(k, "") for k in LABEL_FIELDS}})
    return out.getvalue()


def labels_path(folder: Path) -> Path:
    """``corpus/labels.csv`` for ``corpus/mails``, ``corpus/<name>-labels.csv`` for other folders."""
    return folder.parent / ("labels.csv" if folder.name == "mails" else f"{folder.name}-labels.csv")


def data_hash(records: list[Record]) -> str:
    """SHA-256 over every record's MIME bytes and labels, in id order."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(record.id.encode())
        digest.update(to_mime(record))
        digest.update(repr(sorted(record.labels.items())).encode())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m triage.corpus", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("labels", help="rewrite labels.csv beside the batch files")
    lab.add_argument("folder", nargs="?", default=str(ROOT / "mails"))
    build = sub.add_parser("build", help="write every mail as .eml plus labels.csv into DIR")
    build.add_argument("dir")
    build.add_argument("--folder", default=str(ROOT / "mails"))
    build.add_argument("--split", choices=("train", "test", "all"), default="all")
    args = parser.parse_args(argv)
    try:
        records = load(args.folder)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "labels":
        target = labels_path(Path(args.folder))
        target.write_text(labels_csv(records), encoding="utf-8")
        print(f"{len(records)} labels written to {target}")
        return 0
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    chosen = [r for r in records if args.split == "all" or r.split == args.split]
    for record in chosen:
        (out / f"{record.id}.eml").write_bytes(to_mime(record))
    (out / "labels.csv").write_text(labels_csv(chosen), encoding="utf-8")
    print(f"{len(chosen)} mails written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
