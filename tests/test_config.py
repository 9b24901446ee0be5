"""Configuration: the shipped example is valid; every error names file, key and problem."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from triage.cli import DEFAULT_CONFIG
from triage.config import load_config, parse_config
from triage.errors import ConfigError

EXAMPLE = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))


def _with(path: str, value):
    """The example config with one dotted key replaced (value None deletes it)."""
    import copy

    raw = copy.deepcopy(EXAMPLE)
    keys = path.split(".")
    table = raw
    for key in keys[:-1]:
        table = table[key]
    if value is None:
        del table[keys[-1]]
    else:
        table[keys[-1]] = value
    return raw


def test_example_config_routes_like_the_seed():
    config = load_config(DEFAULT_CONFIG)
    assert config.group_for("influma", "de").members == ("Marcus",)
    assert config.group_for("blog2social", "de").members == ("Dennis",)
    assert config.group_for("blog2social", "en").members == ("Severin",)
    assert config.group_for("blog2social", "de").deputies == ("Severin",)
    assert config.group_for("prgateway-sales", "en").members == ("Klaus", "Linda", "Khadija")
    assert config.group_for("prgateway-support", "de").members == ("Daniel", "Ajmal", "Severin")
    assert config.group_for("billing", "en").members == ("Linda", "Khadija")
    assert config.group_for("press-release", "de").members == ("Melanie",)
    assert config.group_for("unsorted", "de").name == "dispatch"
    assert config.classifier.threshold == 0.45


@pytest.mark.parametrize("path,value,key,problem", [
    ("classifier.threshold", 1.5, "classifier.threshold", "from 0 to 1"),
    ("classifier.threshold", "high", "classifier.threshold", "from 0 to 1"),
    ("classifier.colour", "red", "classifier.colour", "unknown key"),
    ("routing.billing", None, "routing.billing", "missing"),
    ("routing.billing", "accounts", "routing.billing", "unknown group 'accounts'"),
    ("routing.blog2social", {"de": "blog2social-de"}, "routing.blog2social.en", "missing"),
    ("routing.blog2social", {"de": "blog2social-de", "en": "nobody"}, "routing.blog2social.en", "unknown group"),
    ("routing.spam", "dispatch", "routing.spam", "unknown key"),
    ("groups.billing.address", "not-an-address", "groups.billing.address", "not an e-mail address"),
    ("groups.billing.address", None, "groups.billing.address", "missing"),
    ("groups.billing.members", [], "groups.billing.members", "at least one"),
    ("groups.billing.members", "Linda", "groups.billing.members", "list of names"),
    ("groups", None, "groups", "missing table"),
])
def test_config_errors_name_key_and_problem(path, value, key, problem):
    with pytest.raises(ConfigError) as info:
        parse_config(_with(path, value), "site.toml")
    assert info.value.file == "site.toml"
    assert info.value.key == key
    assert problem in info.value.problem
    assert str(info.value).startswith(f"site.toml: {key}: ")


def test_broken_toml_names_the_file(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[groups\nname = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.toml")


def test_check_config_command(tmp_path: Path):
    ok = subprocess.run([sys.executable, "-m", "triage", "check-config", str(DEFAULT_CONFIG)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "ok (9 groups" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(DEFAULT_CONFIG.read_text(encoding="utf-8").replace('threshold = 0.45', 'threshold = 7'), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "triage", "check-config", str(bad)], capture_output=True, text=True)
    assert result.returncode == 2
    assert f"{bad}: classifier.threshold: must be a number from 0 to 1" in result.stderr
