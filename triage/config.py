"""Configuration: a TOML file loaded into validated, frozen dataclasses.

`load_config` is the only entry point; every problem raises a
`ConfigError` that names the file, the key and what is wrong. Secrets never
live in this file: later sections name the environment variable or file
that holds them. See ``examples/triage.toml`` for a commented example.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triage.errors import ConfigError

TOPICS = (
    "influma", "blog2social", "prgateway-sales", "prgateway-support",
    "billing", "press-release", "deletion",
)
UNSORTED = "unsorted"
LANGUAGES = ("de", "en")
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


@dataclass(frozen=True)
class Group:
    """An owner group: who is in it and where its forwards go."""

    name: str
    address: str
    members: tuple[str, ...]
    deputies: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class ClassifierConfig:
    model: Path | None = None  # None: the model shipped in models/
    threshold: float = 0.45


@dataclass(frozen=True)
class Config:
    source: str
    classifier: ClassifierConfig
    groups: dict[str, Group]
    # topic -> {language -> group name}; a topic routed alike for all languages has both keys.
    routing: dict[str, dict[str, str]] = field(default_factory=dict)

    def group_for(self, topic: str, language: str) -> Group:
        """The owner group for a topic (or `unsorted`) in a language."""
        by_language = self.routing[topic]
        return self.groups[by_language.get(language, by_language["en"])]


def load_config(path: Path | str) -> Config:
    """Read and validate the TOML file at ``path``."""
    path = Path(path)
    source = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(source, "", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"not valid TOML: {exc}") from None
    return parse_config(raw, source, base=path.parent)


def parse_config(raw: dict[str, Any], source: str = "<config>", base: Path = Path(".")) -> Config:
    """Validate an already-read TOML table (used by `load_config` and tests)."""
    r = _Reader(source)
    r.only(raw, "", {"classifier", "groups", "routing"})
    classifier = _classifier(r, raw.get("classifier", {}), base)
    groups = _groups(r, r.table(raw, "groups", required=True))
    routing = _routing(r, r.table(raw, "routing", required=True), groups)
    return Config(source=source, classifier=classifier, groups=groups, routing=routing)


def _classifier(r: _Reader, table: Any, base: Path) -> ClassifierConfig:
    if not isinstance(table, dict):
        raise ConfigError(r.source, "classifier", "must be a table")
    r.only(table, "classifier", {"model", "threshold"})
    model = None
    if "model" in table:
        model = base / r.string(table, "classifier.model", table["model"])
    threshold = table.get("threshold", ClassifierConfig.threshold)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise ConfigError(r.source, "classifier.threshold", f"must be a number from 0 to 1, not {threshold!r}")
    return ClassifierConfig(model=model, threshold=float(threshold))


def _groups(r: _Reader, table: dict[str, Any]) -> dict[str, Group]:
    groups = {}
    for name, spec in table.items():
        key = f"groups.{name}"
        if not isinstance(spec, dict):
            raise ConfigError(r.source, key, "must be a table")
        r.only(spec, key, {"address", "members", "deputies", "description"})
        address = r.string(spec, f"{key}.address", spec.get("address"))
        if not _ADDRESS.match(address):
            raise ConfigError(r.source, f"{key}.address", f"not an e-mail address: {address!r}")
        members = r.names(spec, f"{key}.members", spec.get("members"), required=True)
        deputies = r.names(spec, f"{key}.deputies", spec.get("deputies", []))
        description = r.string(spec, f"{key}.description", spec.get("description", ""), allow_empty=True)
        groups[name] = Group(name, address, members, deputies, description)
    if not groups:
        raise ConfigError(r.source, "groups", "no group is configured")
    return groups


def _routing(r: _Reader, table: dict[str, Any], groups: dict[str, Group]) -> dict[str, dict[str, str]]:
    r.only(table, "routing", set(TOPICS) | {UNSORTED})
    routing = {}
    for topic in TOPICS + (UNSORTED,):
        key = f"routing.{topic}"
        if topic not in table:
            raise ConfigError(r.source, key, "missing: every topic and 'unsorted' needs an owner group")
        value = table[topic]
        if isinstance(value, str):
            by_language = {lang: value for lang in LANGUAGES}
        elif isinstance(value, dict):
            r.only(value, key, set(LANGUAGES))
            missing = [lang for lang in LANGUAGES if lang not in value]
            if missing:
                raise ConfigError(r.source, f"{key}.{missing[0]}", "missing: a per-language route needs both de and en")
            by_language = {lang: r.string(value, f"{key}.{lang}", value[lang]) for lang in LANGUAGES}
        else:
            raise ConfigError(r.source, key, "must be a group name or a table {de = ..., en = ...}")
        for lang, group in by_language.items():
            if group not in groups:
                where = key if isinstance(value, str) else f"{key}.{lang}"
                raise ConfigError(r.source, where, f"names unknown group {group!r} (known: {', '.join(sorted(groups))})")
        routing[topic] = by_language
    return routing


class _Reader:
    """Small typed accessors that raise `ConfigError` with file and key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def only(self, table: dict[str, Any], where: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                full = f"{where}.{key}" if where else key
                raise ConfigError(self.source, full, f"unknown key (allowed here: {', '.join(sorted(allowed))})")

    def table(self, raw: dict[str, Any], key: str, required: bool = False) -> dict[str, Any]:
        value = raw.get(key)
        if value is None:
            if required:
                raise ConfigError(self.source, key, "missing table")
            return {}
        if not isinstance(value, dict):
            raise ConfigError(self.source, key, "must be a table")
        return value

    def string(self, table: dict[str, Any], key: str, value: Any, allow_empty: bool = False) -> str:
        if value is None:
            raise ConfigError(self.source, key, "missing")
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise ConfigError(self.source, key, f"must be a non-empty string, not {value!r}")
        return value.strip()

    def names(self, table: dict[str, Any], key: str, value: Any, required: bool = False) -> tuple[str, ...]:
        if value is None:
            raise ConfigError(self.source, key, "missing")
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(self.source, key, "must be a list of names")
        if required and not value:
            raise ConfigError(self.source, key, "must name at least one person")
        return tuple(v.strip() for v in value)
