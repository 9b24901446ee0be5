"""Draft rendering for every case and language, reply headers, and injection attempts."""

from __future__ import annotations

import email
from email import policy

import pytest

from triage.config import CENTRAL_EXTENSION
from triage.drafts import QUESTIONS, DraftFacts, Drafter, draft_message, reply_subject
from triage.mail import Attachment, Mail

MAIL = Mail(subject="AW: Re: Upload geht nicht", from_addr="anna@berg.de", from_name="Anna Berg",
            message_id="<orig@berg.de>", references=("<older@pr-gateway.de>",), date="2024-05-07T10:00:00+02:00",
            body="Hallo,\ndas Bild lässt sich nicht hochladen.\nAnna", new_text="das Bild lässt sich nicht hochladen.")


@pytest.fixture(scope="module")
def drafter(config):
    return Drafter(config)


@pytest.mark.parametrize("language", ["de", "en"])
def test_technical_draft_asks_exactly_for_the_missing_details(drafter, language):
    missing = ("browser", "steps", "urgency")
    text = drafter.render(MAIL, DraftFacts("technical", language, "prgateway-support", "prgateway", missing=missing))
    for key, question in QUESTIONS[language].items():
        assert (question in text) is (key in missing), key
    assert ("Pressemitteilung" if language == "de" else "press release") in text
    assert "-266" in text and f"-{CENTRAL_EXTENSION}" not in text
    assert "SHOW-STOPPER" in text and "NICE TO HAVE" in text


def test_technical_draft_with_everything_given(drafter):
    text = drafter.render(MAIL, DraftFacts("technical", "de", "blog2social", "blog2social", missing=()))
    assert "alle nötigen Angaben" in text
    assert "Ihren Beitrag" in text
    assert not any(q in text for q in QUESTIONS["de"].values())


def test_technical_draft_names_the_attached_image(drafter):
    mail = Mail(from_name="Anna Berg", attachments=(Attachment("logo.png", "image/png", 250_000, "PNG", 1920, 1080),))
    text = drafter.render(mail, DraftFacts("technical", "de", "prgateway-support", "prgateway", missing=("os",)))
    assert "logo.png: PNG, 1920 × 1080 Pixel, 244 KB" in text


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("legal", [False, True])
def test_deletion_draft(drafter, config, language, legal):
    urls = ("https://www.openpr.de/news/1", "www.prnews-portal.de/a")
    text = drafter.render(MAIL, DraftFacts("deletion", language, "deletion", "prgateway", urls=urls, legal=legal))
    assert config.drafts.deletion_form in text
    assert all(url in text for url in urls)
    assert ("Vorkasse" if language == "de" else "prepayment") in text
    assert ("Titel" if language == "de" else "title") in text
    priority = "mit Vorrang" if language == "de" else "with priority"
    assert (priority in text) is legal
    reason_question = "Aus welchem Grund" if language == "de" else "why should the publication be deleted"
    assert (reason_question in text) is (not legal)  # a legal warning is a reason
    assert "-266" in text and f"-{CENTRAL_EXTENSION}" not in text


@pytest.mark.parametrize("topic,extension", [("prgateway-sales", "277"), ("billing", "195"), ("influma", "266")])
def test_acknowledgement_is_signed_by_the_team_of_the_matter(drafter, topic, extension):
    for language in ("de", "en"):
        text = drafter.render(MAIL, DraftFacts("acknowledgement", language, topic, "prgateway"))
        assert f"-{extension}" in text
        assert f"-{CENTRAL_EXTENSION}" not in text


def test_customer_text_cannot_inject_template_code(drafter):
    evil = Mail(from_name="{{ 7*1913 }} {% include '/etc/passwd' %}", subject="{{ 7*1913 }}",
                body="{{ 7*7 }} {% for x in range(3) %}x{% endfor %}")
    text = drafter.render(evil, DraftFacts("technical", "en", "prgateway-support", "prgateway", missing=("os",)))
    assert "13391" not in text and "root:" not in text
    raw = draft_message(evil, text, "support@example.com")
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert "{{ 7*7 }} {% for x in range(3) %}x{% endfor %}" in parsed.get_content()


def test_draft_message_is_a_threaded_reply(drafter):
    text = drafter.render(MAIL, DraftFacts("technical", "de", "prgateway-support", "prgateway", missing=("os",)))
    parsed = email.message_from_bytes(draft_message(MAIL, text, "support@example.com", "PR-Gateway Support"),
                                      policy=policy.default)
    assert parsed["Subject"] == "Re: Upload geht nicht"
    assert parsed["In-Reply-To"] == "<orig@berg.de>"
    assert parsed["References"] == "<older@pr-gateway.de> <orig@berg.de>"
    assert parsed["From"].addresses[0].addr_spec == "support@example.com"
    assert parsed["To"] == "anna@berg.de"
    body = parsed.get_content()
    assert body.startswith(text.rstrip("\n"))
    assert "> das Bild lässt sich nicht hochladen." in body


def test_header_injection_through_the_subject_is_impossible():
    evil = Mail(subject="Hallo\r\nBcc: victim@example.org\r\nX-Evil: 1", from_addr="a@b.de", body="x")
    parsed = email.message_from_bytes(draft_message(evil, "Text", "support@example.com"), policy=policy.default)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert parsed["Subject"].startswith("Re: Hallo")


@pytest.mark.parametrize("subject,expected", [
    ("Upload", "Re: Upload"), ("Re: Upload", "Re: Upload"), ("AW: RE: Aw: Upload", "Re: Upload"),
    ("WG: Fwd: Upload", "Re: Upload"), ("", "Re: Ihre Nachricht"),
])
def test_reply_subject(subject, expected):
    assert reply_subject(subject) == expected
