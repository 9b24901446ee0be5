"""New text versus quoted history, forwards, signatures and disclaimers."""

from __future__ import annotations

import pytest

from triage.reply_text import split_reply

CASES = [
    ("german attribution",
     "Bitte schicken Sie mir die Rechnung erneut.\n\nAm 03.05.2024 um 10:12 schrieb PR-Gateway Support <support@pr-gateway.de>:\n> Ihre Mitteilung wurde versendet.\n> Viele Grüße",
     "Bitte schicken Sie mir die Rechnung erneut.", "Ihre Mitteilung wurde versendet."),
    ("wrapped german attribution",
     "Danke, passt.\n\nAm Di., 7. Mai 2024 um 09:14 Uhr schrieb Blog2Social Team <\nsupport@blog2social.com>:\n> Login geht nicht",
     "Danke, passt.", "Login geht nicht"),
    ("english attribution",
     "Please cancel my subscription.\n\nOn Tue, May 7, 2024 at 9:14 AM Support <support@blog2social.com> wrote:\n> Your post failed to publish.",
     "Please cancel my subscription.", "Your post failed to publish."),
    ("outlook original message",
     "Wann kommt die Gutschrift?\n\n-----Ursprüngliche Nachricht-----\nVon: Support\nGesendet: Montag, 6. Mai 2024 11:00\nAn: Kunde\nBetreff: Upload\n\nDas Bild ist zu groß.",
     "Wann kommt die Gutschrift?", "Das Bild ist zu groß."),
    ("outlook header block without separator",
     "Need the invoice again.\n\n________________________________\nFrom: Support <support@pr-gateway.de>\nSent: Monday, May 6, 2024 11:00\nTo: Customer\nSubject: Upload\n\nThe image is too large.",
     "Need the invoice again.", "The image is too large."),
    ("bottom quote block",
     "Ja, bitte löschen.\n> Sollen wir die Mitteilung löschen?\n> Gruß",
     "Ja, bitte löschen.", "Sollen wir die Mitteilung löschen?"),
]


@pytest.mark.parametrize("name,body,new,quoted", CASES, ids=[c[0] for c in CASES])
def test_quoted_history_is_separated(name, body, new, quoted):
    parts = split_reply(body)
    assert parts.new_text == new
    assert quoted in parts.quoted_text
    assert parts.forwarded_text == ""


@pytest.mark.parametrize("marker", [
    "---------- Forwarded message ---------",
    "-------- Weitergeleitete Nachricht --------",
    "Begin forwarded message:",
    "Anfang der weitergeleiteten Nachricht:",
])
def test_forwarded_content_is_kept_apart(marker):
    body = f"Siehe unten, bitte sofort löschen!\n\n{marker}\nVon: Kanzlei Recht <info@kanzlei.de>\nBetreff: Abmahnung\n\nSehr geehrte Damen und Herren, wir mahnen ab."
    parts = split_reply(body)
    assert parts.new_text == "Siehe unten, bitte sofort löschen!"
    assert "wir mahnen ab" in parts.forwarded_text
    assert parts.quoted_text == ""


def test_outlook_forward_is_forwarded_when_subject_says_so():
    body = "FYI\n\n-----Original Message-----\nFrom: Lawyer\nSent: Monday\nTo: Us\nSubject: Cease and desist\n\nRemove the article."
    assert "Remove the article." in split_reply(body, "FW: Cease and desist").forwarded_text
    assert "Remove the article." in split_reply(body, "Re: Cease and desist").quoted_text


@pytest.mark.parametrize("body", [
    "Die Rechnung fehlt noch.\n\nMit freundlichen Grüßen\nAnna Berg\nBerg GmbH\nTel. 0221 123456\nwww.berg-gmbh.de",
    "Die Rechnung fehlt noch.\n\nLG Anna",
    "Die Rechnung fehlt noch.\n-- \nAnna Berg | Berg GmbH | www.berg-gmbh.de",
    "Die Rechnung fehlt noch.\n\nVon meinem iPhone gesendet",
    "Die Rechnung fehlt noch.\n\nBest regards,\nAnna",
    "Die Rechnung fehlt noch.\n\nDiese E-Mail enthält vertrauliche Informationen. Wenn Sie nicht der richtige Adressat sind, "
    "informieren Sie bitte sofort den Absender. Geschäftsführer: A. Berg, Amtsgericht Köln HRB 1234",
])
def test_signatures_and_disclaimers_are_dropped(body):
    assert split_reply(body).new_text == "Die Rechnung fehlt noch."


def test_a_customer_sentence_with_one_disclaimer_word_stays():
    body = "Die Pressemitteilung enthielt vertrauliche Zahlen.\n\nBitte nehmen Sie sie sofort offline."
    assert split_reply(body).new_text == body


def test_closing_word_at_the_very_start_is_not_a_signature():
    assert split_reply("Danke!\nDer Login geht wieder.").new_text == "Danke!\nDer Login geht wieder."
