"""Shared fixtures: raw message builders and the shipped model, loaded once."""

from __future__ import annotations

import pytest

from triage.config import load_config
from triage.engine import Engine
from triage.model import load_model
from triage.cli import DEFAULT_CONFIG


def raw_mail(body: str | bytes = "Hallo", *, subject: str = "Frage", sender: str = "Kunde <kunde@example.org>",
             headers: str = "", content_type: str = "text/plain; charset=utf-8", cte: str = "8bit") -> bytes:
    """A simple single-part message as bytes with CRLF line ends."""
    head = (
        f"From: {sender}\r\nTo: support@pr-gateway.de\r\nSubject: {subject}\r\n"
        f"Message-ID: <t1@example.org>\r\nDate: Tue, 07 May 2024 10:00:00 +0200\r\n{headers}"
        f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"
    ).encode("ascii")
    payload = body.encode("utf-8") if isinstance(body, str) else body
    return head + payload.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.fixture(scope="session")
def model():
    return load_model()


@pytest.fixture(scope="session")
def config():
    return load_config(DEFAULT_CONFIG)


@pytest.fixture(scope="session")
def engine(config, model):
    return Engine(config, model)
