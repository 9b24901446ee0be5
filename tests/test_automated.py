"""Automated mail is recognised by headers first, by out-of-office wording second."""

from __future__ import annotations

import pytest

from triage.automated import detect_automated
from triage.parsing import parse_mail
from conftest import raw_mail


def _mail(body="Hallo, die Rechnung fehlt.", subject="Rechnung", sender="Kunde <kunde@example.org>", headers="",
          content_type="text/plain; charset=utf-8"):
    return parse_mail(raw_mail(body, subject=subject, sender=sender, headers=headers, content_type=content_type))


@pytest.mark.parametrize("kwargs,expected", [
    ({"headers": "Auto-Submitted: auto-replied\r\n"}, "auto-reply"),
    ({"headers": "Auto-Submitted: auto-generated\r\n"}, "auto-reply"),
    ({"headers": "Auto-Submitted: no\r\n"}, None),
    ({"headers": "X-Autoreply: yes\r\n"}, "auto-reply"),
    ({"headers": "X-Autorespond: yes\r\n"}, "auto-reply"),
    ({"headers": "Precedence: auto_reply\r\n"}, "auto-reply"),
    ({"headers": "Precedence: bulk\r\n"}, "list"),
    ({"headers": "Precedence: junk\r\n"}, "list"),
    ({"headers": "Precedence: list\r\n"}, "list"),
    ({"headers": "List-Id: <news.example.org>\r\n"}, "list"),
    ({"headers": "List-Unsubscribe: <mailto:leave@example.org>\r\n"}, "list"),
    ({"sender": "MAILER-DAEMON@mx.example.org"}, "bounce"),
    ({"sender": "Mail Delivery System <postmaster@example.org>"}, "bounce"),
    ({"headers": "Return-Path: <>\r\n"}, "bounce"),
    ({"headers": "X-Triage-Loop: yes\r\n"}, "loop"),
    ({"headers": "X-Auto-Response-Suppress: All\r\n"}, None),
    ({"subject": "Abwesenheitsnotiz: Rechnung"}, "auto-reply"),
    ({"subject": "Out of Office: invoice"}, "auto-reply"),
    ({"subject": "Automatische Antwort: Ihre Anfrage"}, "auto-reply"),
    ({"subject": "AW: Rechnung", "body": "Vielen Dank für Ihre Nachricht. Ich bin bis 14.06. nicht im Büro und ab dem 17.06. wieder erreichbar. In dringenden Fällen wenden Sie sich an info@example.org."}, "auto-reply"),
    ({"subject": "Re: invoice", "body": "Thank you for your email. I am out of the office until Monday and will respond upon my return."}, "auto-reply"),
    ({"subject": "Re: Ihre Rechnung", "body": "Diese Nachricht wurde automatisch erstellt. Dieses Postfach wird nicht mehr betreut."}, "auto-reply"),
    ({"subject": "Re: report", "body": "Our office is closed for the holidays until Jan 6. We'll reply when we're back."}, "auto-reply"),
    ({"subject": "Re: release", "body": "I'm travelling with limited access to email until 18 March. For anything urgent please call the studio."}, "auto-reply"),
    ({"subject": "Passwort", "body": "Der Link ist abgelaufen, wieder das Gleiche. Ich bin gerade im Urlaub und nur mobil online."}, None),
    ({}, None),
    ({"body": "Ich bin nächste Woche im Urlaub, bitte schicken Sie die Rechnung vorher."}, None),
])
def test_detect_automated(kwargs, expected):
    assert detect_automated(_mail(**kwargs)) == expected


def test_delivery_status_report_is_a_bounce():
    raw = (
        b"From: Mail Delivery Subsystem <mailer@mx.example.org>\r\nTo: support@pr-gateway.de\r\nSubject: Undelivered\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\nAction: failed\r\n--b--\r\n"
    )
    assert detect_automated(parse_mail(raw)) == "bounce"
