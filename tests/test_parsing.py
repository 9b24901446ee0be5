"""Parsing of every MIME shape into a `Mail`: a table of raw messages and what must come out."""

from __future__ import annotations

import base64
import quopri

import pytest

from triage.errors import ParseError
from triage.images import make_image
from triage.parsing import parse_mail, unflow
from conftest import raw_mail

UMLAUT_TEXT = "Grüße aus Köln, die Überweisung für März ist raus."


def _multipart(parts: list[tuple[str, str, bytes]], subtype: str = "mixed", extra: str = "") -> bytes:
    boundary = "==b=="
    out = [
        f"From: Kunde <kunde@example.org>\r\nTo: support@pr-gateway.de\r\nSubject: Test\r\n{extra}"
        f"MIME-Version: 1.0\r\nContent-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n".encode()
    ]
    for headers, cte, payload in parts:
        out.append(f"--{boundary}\r\n{headers}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n".encode() + payload + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


CASES = [
    ("utf-8 8bit", raw_mail(UMLAUT_TEXT), UMLAUT_TEXT),
    ("quoted-printable", raw_mail(quopri.encodestring(UMLAUT_TEXT.encode()), cte="quoted-printable"), UMLAUT_TEXT),
    ("base64", raw_mail(base64.encodebytes(UMLAUT_TEXT.encode()), cte="base64"), UMLAUT_TEXT),
    ("iso-8859-1", raw_mail(UMLAUT_TEXT.encode("latin-1"), content_type="text/plain; charset=iso-8859-1"), UMLAUT_TEXT),
    ("windows-1252", raw_mail("„Angebot“ – 50 €".encode("cp1252"), content_type="text/plain; charset=windows-1252"), "„Angebot“ – 50 €"),
    ("cp1252 declared as latin-1", raw_mail("„Angebot“ – 50 €".encode("cp1252"), content_type="text/plain; charset=iso-8859-1"), "„Angebot“ – 50 €"),
    ("unknown charset falls back", raw_mail(UMLAUT_TEXT.encode("utf-8"), content_type="text/plain; charset=x-unknown-foo"), UMLAUT_TEXT),
    ("wrong declaration utf-8 with latin-1 bytes", raw_mail("Grüße".encode("latin-1"), content_type="text/plain; charset=utf-8"), "Gr"),
    ("no charset at all", raw_mail(b"plain ascii text", content_type="text/plain"), "plain ascii text"),
    ("html only", raw_mail("<html><body><p>Guten Tag,</p><p>die <b>Rechnung</b> fehlt.</p></body></html>",
                           content_type="text/html; charset=utf-8"), "die Rechnung fehlt."),
    ("multipart/alternative prefers plain", _multipart([
        ("Content-Type: text/plain; charset=utf-8", "8bit", "Klartext hier".encode()),
        ("Content-Type: text/html; charset=utf-8", "8bit", b"<p>HTML hier</p>"),
    ], "alternative"), "Klartext hier"),
    ("format=flowed", raw_mail("Dies ist eine lange Zeile, die \nweich umbrochen wurde.\nNeue Zeile.",
                                content_type="text/plain; charset=utf-8; format=flowed"),
     "Dies ist eine lange Zeile, die weich umbrochen wurde.\nNeue Zeile."),
]


@pytest.mark.parametrize("name,raw,expected", CASES, ids=[c[0] for c in CASES])
def test_body_is_decoded(name, raw, expected):
    mail = parse_mail(raw)
    assert expected in mail.body


def test_crlf_and_lf_give_the_same_text():
    crlf = raw_mail("Zeile eins\nZeile zwei")
    lf = crlf.replace(b"\r\n", b"\n")
    assert parse_mail(crlf).body.strip() == parse_mail(lf).body.strip() == "Zeile eins\nZeile zwei"


@pytest.mark.parametrize("encoded,decoded", [
    ("=?utf-8?q?L=C3=B6schung_meiner_Mitteilung?=", "Löschung meiner Mitteilung"),
    ("=?iso-8859-1?Q?R=FCckfrage?= zur Rechnung", "Rückfrage zur Rechnung"),
    ("=?UTF-8?B?w5xiZXJ3ZWlzdW5n?=", "Überweisung"),
    ("plain subject", "plain subject"),
])
def test_subject_rfc2047(encoded, decoded):
    assert parse_mail(raw_mail("x", subject=encoded)).subject == decoded


def test_headers_and_threading():
    raw = raw_mail("x", sender="=?utf-8?q?J=C3=BCrgen_Wei=C3=9F?= <J.Weiss@Example.org>",
                   headers="In-Reply-To: <abc@pr-gateway.de>\r\nReferences: <a@x> <abc@pr-gateway.de>\r\n")
    mail = parse_mail(raw)
    assert mail.from_addr == "j.weiss@example.org"
    assert mail.from_name == "Jürgen Weiß"
    assert mail.to == ("support@pr-gateway.de",)
    assert mail.message_id == "<t1@example.org>"
    assert mail.in_reply_to == "<abc@pr-gateway.de>"
    assert mail.references == ("<a@x>", "<abc@pr-gateway.de>")
    assert mail.date.startswith("2024-05-07")


def test_attachments_with_image_dimensions():
    png = make_image("PNG", 1920, 1080, 5000)
    jpeg = make_image("JPEG", 800, 600, 3000)
    raw = _multipart([
        ("Content-Type: text/plain; charset=utf-8", "8bit", "Bild anbei".encode()),
        ('Content-Type: image/png; name="shot.png"\r\nContent-Disposition: attachment; filename="shot.png"', "base64",
         base64.encodebytes(png)),
        ('Content-Type: image/jpeg; name="foto.jpg"\r\nContent-Disposition: attachment; filename="foto.jpg"', "base64",
         base64.encodebytes(jpeg)),
        ('Content-Type: application/pdf; name="rechnung.pdf"\r\nContent-Disposition: attachment; filename="rechnung.pdf"',
         "base64", base64.encodebytes(b"%PDF-1.4 " + b"0" * 100)),
    ])
    mail = parse_mail(raw)
    assert mail.body.strip() == "Bild anbei"
    shot, foto, pdf = mail.attachments
    assert (shot.filename, shot.content_type, shot.size) == ("shot.png", "image/png", 5000)
    assert (shot.image_format, shot.width, shot.height) == ("PNG", 1920, 1080)
    assert (foto.image_format, foto.width, foto.height) == ("JPEG", 800, 600)
    assert pdf.image_format is None and pdf.size == 109


def test_html_links_tables_and_blockquotes():
    html = (
        "<div>Bitte löschen Sie <a href='https://www.openpr.de/news/1'>diesen Artikel</a>.</div>"
        "<table><tr><td>Portal</td><td>www.lifepr.de/x</td></tr></table>"
        "<blockquote>Alte Nachricht</blockquote>"
    )
    mail = parse_mail(raw_mail(html, content_type="text/html; charset=utf-8"))
    assert "diesen Artikel (https://www.openpr.de/news/1)" in mail.body
    assert "Portal | www.lifepr.de/x" in mail.body
    assert "> Alte Nachricht" in mail.body
    assert "Alte Nachricht" not in mail.new_text


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\x00\x01\x02 binary garbage without any header"])
def test_not_a_mail_raises_parse_error(raw):
    with pytest.raises(ParseError):
        parse_mail(raw)


def test_unflow_delsp():
    assert unflow("abc \ndef", delsp=True) == "abcdef"
    assert unflow("-- \nSignatur") == "-- \nSignatur"
