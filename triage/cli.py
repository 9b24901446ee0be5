"""The `triage` command line: classify, train, evaluate, check-config, run."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from triage import __version__
from triage.errors import TriageError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "examples" / "triage.toml"
log = logging.getLogger("triage")

JSON_KEYS = ("file", "skipped", "language", "topic", "product", "confidence", "group",
             "technical_problem", "legal_warning", "urls", "missing_details", "draft")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except TriageError as exc:
        print(f"triage: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triage",
        description="Sort support and sales mail by language and topic, route it to its owner group, draft replies.",
    )
    parser.add_argument("--version", action="version", version=f"triage {__version__}")
    parser.add_argument("--log-level", default="warning", choices=("debug", "info", "warning", "error"),
                        help="log detail on stderr (default: warning)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    classify = sub.add_parser("classify", help="triage .eml files and print one decision per mail",
                              description="Triage mails from files or folders (*.eml) and print the decisions.")
    classify.add_argument("paths", nargs="+", metavar="PATH", help=".eml file or folder of .eml files")
    classify.add_argument("--json", action="store_true", help="one JSON object per line (the SPEC's contract)")
    classify.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="configuration file (default: %(default)s)")
    classify.add_argument("--model", type=Path, help="model file (default: the configured or shipped model)")
    classify.set_defaults(func=_classify)

    train = sub.add_parser("train", help="train the classifier on the labelled corpus",
                           description="Train topic and product classifiers, print test-split and cross-validation figures, write the model.")
    train.add_argument("--corpus", type=Path, default=ROOT / "corpus" / "mails", help="folder of batch files (default: %(default)s)")
    train.add_argument("--out", type=Path, default=ROOT / "models", help="folder to write the model to (default: %(default)s)")
    train.add_argument("--design", action="append", choices=("logreg", "svm-calibrated"),
                       help="only consider this classifier design (repeatable; default: compare all)")
    train.add_argument("--quiet", action="store_true", help="no progress lines")
    train.set_defaults(func=_train)

    evaluate = sub.add_parser("evaluate", help="measure the whole triage on a labelled folder of batch files",
                              description="Run the full triage over labelled mails (e.g. corpus/blind) and print topic, language and automated-mail figures.")
    evaluate.add_argument("corpus", type=Path, nargs="?", default=ROOT / "corpus" / "blind")
    evaluate.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    evaluate.add_argument("--model", type=Path)
    evaluate.add_argument("--split", choices=("all", "train", "test"), default="all")
    evaluate.add_argument("--errors", action="store_true", help="list every mail triaged wrongly")
    evaluate.set_defaults(func=_evaluate)

    check = sub.add_parser("check-config", help="validate a configuration file",
                           description="Validate a configuration file; name file, key and problem on error.")
    check.add_argument("config", type=Path)
    check.set_defaults(func=_check_config)

    run = sub.add_parser("run", help="watch the configured inboxes and triage new mail (the daemon)",
                         description="Watch every inbox of the configuration: forward, draft, alert and mark each "
                                     "new mail. Stops warmly on SIGTERM/SIGINT (a second signal stops at once). "
                                     "Logs at info level unless --log-level says otherwise.")
    run.add_argument("--config", type=Path, required=True, help="configuration file with [inboxes] and [daemon]")
    run.add_argument("--once", action="store_true", help="work off the backlog of each inbox, then exit")
    run.add_argument("--dry-run", action="store_true", help="decide and log what would be done; change nothing")
    run.add_argument("--log-level", dest="run_log_level", choices=("debug", "info", "warning", "error"),
                     help="log detail on stderr (default for run: info)")
    run.set_defaults(func=_run)
    return parser


def _engine(config_path: Path, model_path: Path | None):
    from triage.config import load_config
    from triage.engine import Engine
    from triage.model import load_model

    config = load_config(config_path)
    model = load_model(model_path or config.classifier.model)
    return Engine(config, model)


def _mail_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.eml") if p.is_file()))
        else:
            files.append(path)
    return files


CLASSIFY_BATCH = 200  # mails read and decided together: one model call per batch, bounded memory


def _classify(args: argparse.Namespace) -> int:
    engine = _engine(args.config, args.model)
    files = _mail_files(args.paths)
    rows = []
    for start in range(0, len(files), CLASSIFY_BATCH):
        batch = files[start:start + CLASSIFY_BATCH]
        raws: list[bytes] = []
        read_errors: dict[int, str] = {}
        for i, path in enumerate(batch):
            try:
                raws.append(path.read_bytes())
            except OSError as exc:
                read_errors[i] = f"cannot read file: {exc.strerror}"
                raws.append(b"")
        outcomes = engine.triage_raw(raws, [str(p) for p in batch])
        for i, (path, outcome) in enumerate(zip(batch, outcomes)):
            if outcome.decision is None:
                row = _error_row(str(path), read_errors.get(i) or outcome.error or "unknown error")
            else:
                row = {"file": str(path), **outcome.decision.to_json()}
            if args.json:
                print(json.dumps(row, ensure_ascii=False), flush=True)
            else:
                rows.append(row)
    if not args.json:
        _print_table(rows)
    return 0


def _error_row(file: str, error: str) -> dict:
    return {"file": file, "skipped": None, "language": "en", "topic": "unsorted", "product": "unknown",
            "confidence": 0.0, "group": None, "technical_problem": False, "legal_warning": False,
            "urls": [], "missing_details": [], "draft": None, "error": error}


def _print_table(rows: list[dict]) -> None:
    header = f"{'file':<40} {'lang':<4} {'topic':<18} {'conf':>5} {'product':<11} {'group':<18} note"
    print(header)
    print("-" * len(header))
    for row in rows:
        note = row.get("error") or (f"skipped: {row['skipped']}" if row["skipped"] else "")
        name = row["file"] if len(row["file"]) <= 40 else "…" + row["file"][-39:]
        print(f"{name:<40} {row['language']:<4} {row['topic']:<18} {row['confidence']:>5.2f} "
              f"{row['product']:<11} {str(row['group'] or '-'):<18} {note}")


def _train(args: argparse.Namespace) -> int:
    from triage.corpus import load
    from triage.model import save_model
    from triage.training import format_report, train

    def progress(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    records = load(args.corpus)
    progress(f"{len(records)} labelled mails in {args.corpus}")
    model = train(records, progress, args.design)
    meta = model.metadata
    print(format_report(meta["cross_validation_best"], f"cross-validation ({meta['design']}, train split)"))
    print()
    print(format_report(meta["test"], f"test split ({meta['mails']['test']} mails, never trained on)"))
    print(f"product accuracy on the test split: {meta['test_product_accuracy']:.3f}")
    tech = meta["test_technical"]
    print(f"technical problem on the test split ({tech['rule']}): precision {tech['precision']:.3f} "
          f"recall {tech['recall']:.3f} F1 {tech['f1']:.3f} ({tech['support']} problems)")
    model_path, meta_path = save_model(model, args.out)
    print(f"model written to {model_path} (metadata {meta_path.name}, data {meta['training_data_sha256'][:12]})")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from triage.evaluation import evaluate, format_evaluation

    engine = _engine(args.config, args.model)
    result = evaluate(engine, args.corpus, args.split)
    print(format_evaluation(result, show_errors=args.errors))
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from triage.config import load_config

    config = load_config(args.config)
    print(f"{args.config}: ok ({len(config.groups)} groups, threshold {config.classifier.threshold})")
    return 0


def _run(args: argparse.Namespace) -> int:
    from triage.config import load_config
    from triage.daemon import Daemon
    from triage.engine import Engine
    from triage.model import load_model

    level = args.run_log_level or ("info" if args.log_level == "warning" else args.log_level)
    logging.getLogger().setLevel(getattr(logging, level.upper()))
    config = load_config(args.config)
    log.info("loading the model")
    engine = Engine(config, load_model(config.classifier.model))
    return Daemon(config, engine, dry_run=args.dry_run).run(once=args.once)
