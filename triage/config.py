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
TEAMS = ("support", "sales", "accounting")
TOPIC_TEAM = {"prgateway-sales": "sales", "billing": "accounting"}
CENTRAL_EXTENSION = "140"  # the switchboard: never given in product-related mail
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
class Team:
    """A team that signs drafts: support, sales or accounting, with its phone extension."""

    name: str
    address: str
    extension: str
    signature_de: str
    signature_en: str


@dataclass(frozen=True)
class DraftConfig:
    company: str
    phone: str  # the company's base number; drafts append the team's extension
    deletion_form: str  # where the deletion order form is (a URL)
    acknowledge_other_topics: bool = False


@dataclass(frozen=True)
class Secret:
    """Where a password comes from: an environment variable or a file, never the config itself."""

    env: str | None = None
    file: Path | None = None

    def read(self) -> str:
        import os

        if self.env:
            value = os.environ.get(self.env)
            if value is None:
                raise ConfigError("<environment>", self.env, "environment variable is not set")
            return value
        if self.file:
            try:
                return self.file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(str(self.file), "", f"cannot read password file: {exc.strerror}") from None
        return ""

    def __repr__(self) -> str:  # never show more than where the secret lives
        return f"Secret(env={self.env!r}, file={str(self.file) if self.file else None!r})"


@dataclass(frozen=True)
class Inbox:
    """A watched inbox: IMAP (``kind = "imap"``) or a local Maildir (``kind = "maildir"``)."""

    name: str
    kind: str
    team: str  # the team whose address the drafts come from
    path: Path | None = None  # maildir
    host: str = ""
    port: int = 993
    security: str = "tls"  # tls | starttls | none
    username: str = ""
    password: Secret = Secret()
    ca_file: Path | None = None
    verify: bool = True
    folder: str = "INBOX"
    drafts_folder: str = "Drafts"
    quarantine_folder: str = "Quarantine"
    move_to_group_folder: bool = False
    group_folder_prefix: str = "Triaged"
    idle: bool = True
    poll_interval: float = 60.0
    timeout: float = 30.0


@dataclass(frozen=True)
class Delivery:
    """How forwards and alerts leave: SMTP, or Maildirs under a local folder (one per address)."""

    kind: str = "smtp"  # smtp | maildir
    maildir_root: Path | None = None
    host: str = "127.0.0.1"
    port: int = 25
    security: str = "none"  # tls | starttls | none
    username: str = ""
    password: Secret = Secret()
    ca_file: Path | None = None
    verify: bool = True
    timeout: float = 30.0
    sender: str = "triage@localhost"


@dataclass(frozen=True)
class Alerts:
    cleanup_address: str
    own_portals: tuple[str, ...]


@dataclass(frozen=True)
class DaemonConfig:
    ledger: Path
    max_message_bytes: int = 25_000_000
    max_attempts: int = 3
    idle_renew_seconds: float = 600.0
    progress_every: int = 100


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
    teams: dict[str, Team] = field(default_factory=dict)
    drafts: DraftConfig = DraftConfig("", "", "")
    inboxes: dict[str, Inbox] = field(default_factory=dict)
    delivery: Delivery = Delivery()
    alerts: Alerts | None = None
    daemon: DaemonConfig | None = None

    def team_for(self, topic: str) -> Team:
        """The team that signs a draft on ``topic``: sales and accounting matters have their own."""
        return self.teams[TOPIC_TEAM.get(topic, "support")]

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
    r.only(raw, "", {"classifier", "groups", "routing", "company", "teams", "drafts",
                     "inboxes", "delivery", "alerts", "daemon"})
    classifier = _classifier(r, raw.get("classifier", {}), base)
    groups = _groups(r, r.table(raw, "groups", required=True))
    routing = _routing(r, r.table(raw, "routing", required=True), groups)
    teams = _teams(r, r.table(raw, "teams", required=True))
    drafts = _drafts(r, r.table(raw, "company", required=True), r.table(raw, "drafts"))
    inboxes = _inboxes(r, r.table(raw, "inboxes"), base)
    delivery = _delivery(r, r.table(raw, "delivery"), base)
    alerts = _alerts(r, r.table(raw, "alerts"))
    daemon = _daemon(r, r.table(raw, "daemon"), base)
    return Config(source=source, classifier=classifier, groups=groups, routing=routing, teams=teams, drafts=drafts,
                  inboxes=inboxes, delivery=delivery, alerts=alerts, daemon=daemon)


def _secret(r: _Reader, spec: dict[str, Any], key: str, base: Path) -> Secret:
    if "password" in spec:
        raise ConfigError(r.source, f"{key}.password",
                          "passwords never live in the config file: use password_env or password_file")
    env = spec.get("password_env")
    file = spec.get("password_file")
    if env is not None and file is not None:
        raise ConfigError(r.source, key, "give password_env or password_file, not both")
    if env is not None:
        return Secret(env=r.string(spec, f"{key}.password_env", env))
    if file is not None:
        return Secret(file=base / r.string(spec, f"{key}.password_file", file))
    return Secret()


def _number(r: _Reader, spec: dict[str, Any], key: str, name: str, default: float, minimum: float = 0,
            integer: bool = False) -> Any:
    value = spec.get(name, default)
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(r.source, f"{key}.{name}", f"must be {kind} of at least {minimum}, not {value!r}")
    return value


def _flag(r: _Reader, spec: dict[str, Any], key: str, name: str, default: bool) -> bool:
    value = spec.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError(r.source, f"{key}.{name}", f"must be true or false, not {value!r}")
    return value


def _security(r: _Reader, spec: dict[str, Any], key: str, default: str) -> str:
    value = spec.get("security", default)
    if value not in ("tls", "starttls", "none"):
        raise ConfigError(r.source, f"{key}.security", f"must be tls, starttls or none, not {value!r}")
    return value


_NETWORK_KEYS = {"host", "port", "security", "username", "password", "password_env", "password_file", "ca_file",
                 "verify", "timeout"}


def _inboxes(r: _Reader, table: dict[str, Any], base: Path) -> dict[str, Inbox]:
    inboxes = {}
    for name, spec in table.items():
        key = f"inboxes.{name}"
        if not isinstance(spec, dict):
            raise ConfigError(r.source, key, "must be a table")
        kind = spec.get("kind", "imap")
        team = spec.get("team", "sales" if name == "sales" else "support")
        if team not in TEAMS:
            raise ConfigError(r.source, f"{key}.team", f"must be one of {', '.join(TEAMS)}, not {team!r}")
        common = {"kind", "team", "drafts_folder", "quarantine_folder", "move_to_group_folder", "group_folder_prefix",
                  "idle", "poll_interval"}
        folders = dict(
            drafts_folder=r.string(spec, f"{key}.drafts_folder", spec.get("drafts_folder", "Drafts")),
            quarantine_folder=r.string(spec, f"{key}.quarantine_folder", spec.get("quarantine_folder", "Quarantine")),
            move_to_group_folder=_flag(r, spec, key, "move_to_group_folder", False),
            group_folder_prefix=r.string(spec, f"{key}.group_folder_prefix", spec.get("group_folder_prefix", "Triaged")),
            idle=_flag(r, spec, key, "idle", True),
            poll_interval=float(_number(r, spec, key, "poll_interval", 60.0, minimum=0.1)),
        )
        if kind == "maildir":
            r.only(spec, key, common | {"path"})
            path = base / r.string(spec, f"{key}.path", spec.get("path"))
            inboxes[name] = Inbox(name=name, kind=kind, team=team, path=path, **folders)
        elif kind == "imap":
            r.only(spec, key, common | _NETWORK_KEYS | {"folder"})
            security = _security(r, spec, key, "tls")
            ca_file = spec.get("ca_file")
            inboxes[name] = Inbox(
                name=name, kind=kind, team=team,
                host=r.string(spec, f"{key}.host", spec.get("host")),
                port=int(_number(r, spec, key, "port", 993 if security == "tls" else 143, minimum=1, integer=True)),
                security=security,
                username=r.string(spec, f"{key}.username", spec.get("username")),
                password=_secret(r, spec, key, base),
                ca_file=base / r.string(spec, f"{key}.ca_file", ca_file) if ca_file is not None else None,
                verify=_flag(r, spec, key, "verify", True),
                folder=r.string(spec, f"{key}.folder", spec.get("folder", "INBOX")),
                timeout=float(_number(r, spec, key, "timeout", 30.0, minimum=0.1)),
                **folders,
            )
        else:
            raise ConfigError(r.source, f"{key}.kind", f"must be imap or maildir, not {kind!r}")
    return inboxes


def _delivery(r: _Reader, spec: dict[str, Any], base: Path) -> Delivery:
    if not spec:
        return Delivery()
    kind = spec.get("kind", "smtp")
    if kind == "maildir":
        r.only(spec, "delivery", {"kind", "maildir_root", "sender"})
        return Delivery(kind=kind, maildir_root=base / r.string(spec, "delivery.maildir_root", spec.get("maildir_root")),
                        sender=r.string(spec, "delivery.sender", spec.get("sender", "triage@localhost")))
    if kind != "smtp":
        raise ConfigError(r.source, "delivery.kind", f"must be smtp or maildir, not {kind!r}")
    r.only(spec, "delivery", _NETWORK_KEYS | {"kind", "sender"})
    security = _security(r, spec, "delivery", "starttls")
    ca_file = spec.get("ca_file")
    return Delivery(
        kind=kind,
        host=r.string(spec, "delivery.host", spec.get("host")),
        port=int(_number(r, spec, "delivery", "port", 465 if security == "tls" else 587, minimum=1, integer=True)),
        security=security,
        username=r.string(spec, "delivery.username", spec.get("username", ""), allow_empty=True),
        password=_secret(r, spec, "delivery", base),
        ca_file=base / r.string(spec, "delivery.ca_file", ca_file) if ca_file is not None else None,
        verify=_flag(r, spec, "delivery", "verify", True),
        timeout=float(_number(r, spec, "delivery", "timeout", 30.0, minimum=0.1)),
        sender=r.string(spec, "delivery.sender", spec.get("sender", "triage@localhost")),
    )


def _alerts(r: _Reader, spec: dict[str, Any]) -> Alerts | None:
    if not spec:
        return None
    r.only(spec, "alerts", {"cleanup_address", "own_portals"})
    address = r.string(spec, "alerts.cleanup_address", spec.get("cleanup_address"))
    if not _ADDRESS.match(address):
        raise ConfigError(r.source, "alerts.cleanup_address", f"not an e-mail address: {address!r}")
    portals = r.names(spec, "alerts.own_portals", spec.get("own_portals"), required=True)
    return Alerts(address, tuple(p.lower().removeprefix("www.") for p in portals))


def _daemon(r: _Reader, spec: dict[str, Any], base: Path) -> DaemonConfig:
    r.only(spec, "daemon", {"ledger", "max_message_bytes", "max_attempts", "idle_renew_seconds", "progress_every"})
    return DaemonConfig(
        ledger=base / r.string(spec, "daemon.ledger", spec.get("ledger", "state/ledger.sqlite3")),
        max_message_bytes=int(_number(r, spec, "daemon", "max_message_bytes", 25_000_000, minimum=1024, integer=True)),
        max_attempts=int(_number(r, spec, "daemon", "max_attempts", 3, minimum=1, integer=True)),
        idle_renew_seconds=float(_number(r, spec, "daemon", "idle_renew_seconds", 600.0, minimum=1)),
        progress_every=int(_number(r, spec, "daemon", "progress_every", 100, minimum=1, integer=True)),
    )


def _teams(r: _Reader, table: dict[str, Any]) -> dict[str, Team]:
    r.only(table, "teams", set(TEAMS))
    teams = {}
    for name in TEAMS:
        key = f"teams.{name}"
        spec = r.table(table, name)
        if not spec:
            raise ConfigError(r.source, key, "missing: support, sales and accounting each sign their own drafts")
        r.only(spec, key, {"address", "extension", "signature_de", "signature_en"})
        address = r.string(spec, f"{key}.address", spec.get("address"))
        if not _ADDRESS.match(address):
            raise ConfigError(r.source, f"{key}.address", f"not an e-mail address: {address!r}")
        extension = r.string(spec, f"{key}.extension", spec.get("extension"))
        if not extension.isdigit():
            raise ConfigError(r.source, f"{key}.extension", f"must be digits, not {extension!r}")
        if extension == CENTRAL_EXTENSION:
            raise ConfigError(r.source, f"{key}.extension",
                              f"-{CENTRAL_EXTENSION} is the central number and is never given in product-related mail")
        teams[name] = Team(
            name, address, extension,
            r.string(spec, f"{key}.signature_de", spec.get("signature_de")),
            r.string(spec, f"{key}.signature_en", spec.get("signature_en")),
        )
    return teams


def _drafts(r: _Reader, company: dict[str, Any], drafts: dict[str, Any]) -> DraftConfig:
    r.only(company, "company", {"name", "phone"})
    r.only(drafts, "drafts", {"deletion_form", "acknowledge_other_topics"})
    acknowledge = drafts.get("acknowledge_other_topics", False)
    if not isinstance(acknowledge, bool):
        raise ConfigError(r.source, "drafts.acknowledge_other_topics", f"must be true or false, not {acknowledge!r}")
    phone = r.string(company, "company.phone", company.get("phone"))
    if not re.fullmatch(r"\+?[\d ()/-]+", phone):
        raise ConfigError(r.source, "company.phone", f"must be a phone number without extension, not {phone!r}")
    return DraftConfig(
        company=r.string(company, "company.name", company.get("name")),
        phone=phone,
        deletion_form=r.string(drafts, "drafts.deletion_form", drafts.get("deletion_form")),
        acknowledge_other_topics=acknowledge,
    )


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
