"""The forward and the clean-up alert: parse back, original attached byte for byte, loop header, no injection."""

from __future__ import annotations

import email
from email import policy
from email.header import Header

import pytest

from triage.automated import LOOP_HEADER, detect_automated
from triage.config import Alerts
from triage.decision import Decision
from triage.forwarding import action_message_id, alert_message, forward_message, one_line, with_message_id
from triage.mail import Mail
from triage.parsing import parse_mail
from conftest import raw_mail

SENDER = "triage@example.com"
ALERTS = Alerts("cleanup@example.com", ("example.com", "pr-gateway.de"))
BODY = ("Hallo, beim Hochladen kommt ein Fehler 500. Die Meldung steht auf https://www.example.com/pm/123 und "
        "https://www.other-news.de/artikel/9 und https://pr-gateway.de/release/77.\nGrüße, Erika Muster")


def _decision(**overrides) -> Decision:
    values = dict(
        skipped=None, language="de", topic="prgateway-support", product="prgateway", confidence=0.87,
        group="prgateway-support", group_address="support-team@example.com",
        guesses=(("prgateway-support", 0.87), ("billing", 0.08)), technical_problem=True,
        urls=("https://www.example.com/pm/123", "https://www.other-news.de/artikel/9", "https://pr-gateway.de/release/77"),
        missing_details=("os", "browser", "urgency"), draft="Guten Tag Erika Muster,\nbitte nennen Sie uns …\n",
        draft_kind="technical", team_address="support@example.com",
    )
    values.update(overrides)
    return Decision(**values)


def _forward(raw: bytes, decision: Decision | None = None, similar: int | None = 3, uid: str = "42") -> bytes:
    return forward_message(raw, parse_mail(raw), decision or _decision(), "support", similar, SENDER,
                           uidvalidity=7, uid=uid)


def body_text(message: bytes) -> str:
    """The forward's plain-text part, with line ends as Python writes them."""
    text = email.message_from_bytes(message, policy=policy.default).get_body(("plain",)).get_content()
    return text.replace("\r\n", "\n")


def encoded(subject: str) -> str:
    return Header(subject, "utf-8").encode()


def attached_bytes(message: bytes) -> bytes:
    """The bytes of the message/rfc822 part, cut out of the raw message by its MIME boundary."""
    boundary = email.message_from_bytes(message, policy=policy.default).get_boundary().encode()
    header = message.index(b"\r\nContent-Type: message/rfc822\r\n")
    start = message.index(b"\r\n\r\n", header) + 4
    end = message.rindex(b"\r\n--" + boundary + b"--")
    return message[start:end]


def test_forward_parses_back_with_the_original_attached_byte_for_byte():
    raw = raw_mail(BODY, subject="Fehler beim Hochladen", sender="Erika Muster <erika@kunde.example>")
    forward = _forward(raw)
    parsed = email.message_from_bytes(forward, policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    assert not parsed.defects
    text_part, original = list(parsed.iter_parts())
    assert text_part.get_content_type() == "text/plain"
    assert original.get_content_type() == "message/rfc822"
    assert original.get_content_disposition() == "attachment"
    assert attached_bytes(forward) == raw
    inner = original.get_content()
    assert inner["Subject"] == "Fehler beim Hochladen"
    assert inner["Message-ID"] == "<t1@example.org>"
    assert "Fehler 500" in inner.get_content()


def test_forward_headers():
    raw = raw_mail(BODY, subject="Fehler beim Hochladen")
    parsed = email.message_from_bytes(_forward(raw), policy=policy.default)
    assert parsed["Subject"] == "[triage] prgateway-support | Fehler beim Hochladen"
    assert parsed["To"] == "support-team@example.com"
    assert parsed["From"] == SENDER
    assert parsed[LOOP_HEADER] == "yes"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Message-ID"] == action_message_id("support", 7, "42", "forward", SENDER)
    assert parsed["Date"]


def test_forward_summary_names_every_triage_fact():
    raw = raw_mail(BODY, subject="Fehler beim Hochladen", sender="Erika Muster <erika@kunde.example>")
    text = body_text(_forward(raw, similar=3))
    for expected in (
        "Topic:", "prgateway-support (confidence 87%)", "Language:          de", "Product:           prgateway",
        "Technical problem: yes", "Similar reports:   3 other technical problems on prgateway-support / prgateway "
        "in the last 30 days", "operating system with version; browser with version; urgency", "Legal warning:     no",
        "  https://www.example.com/pm/123", "  https://www.other-news.de/artikel/9", "Erika Muster <erika@kunde.example>",
        "support (uid 42)", "Guten Tag Erika Muster,\nbitte nennen Sie uns …",
    ):
        assert expected in text, expected
    assert "Best guesses" not in text  # only for unsorted mail
    assert text.index("Technical problem") < text.index("Draft reply") < text.index("Guten Tag")


def test_forward_of_unsorted_mail_lists_the_best_guesses_and_no_draft():
    raw = raw_mail("Hallo, ich habe eine Frage.", subject="Frage")
    decision = _decision(topic="unsorted", group="dispatch", group_address="dispatch@example.com", confidence=0.31,
                         guesses=(("billing", 0.31), ("deletion", 0.22), ("influma", 0.12), ("blog2social", 0.1)),
                         technical_problem=False, urls=(), missing_details=(), draft=None, draft_kind=None)
    text = body_text(_forward(raw, decision, similar=None))
    assert "Best guesses:      billing 31%, deletion 22%, influma 12%" in text
    assert "blog2social 10%" not in text
    assert "Similar reports" not in text and "Missing details" not in text
    assert "URLs:              none" in text
    assert "No draft reply was written" in text


def test_triage_recognises_its_own_forward_as_a_loop():
    forward = _forward(raw_mail(BODY, subject="Fehler"))
    assert detect_automated(parse_mail(forward)) == "loop"


def test_message_id_is_deterministic_per_mail_and_action():
    raw = raw_mail(BODY)
    first = email.message_from_bytes(_forward(raw), policy=policy.default)["Message-ID"]
    again = email.message_from_bytes(_forward(raw), policy=policy.default)["Message-ID"]
    other = email.message_from_bytes(_forward(raw, uid="43"), policy=policy.default)["Message-ID"]
    assert first == again != other
    assert action_message_id("support", 7, "42", "draft", "x@example.com") != first
    assert action_message_id("support", 7, "42", "forward", "x@example.com").endswith("@example.com>")
    assert action_message_id("support", 7, "42", "forward", "nobody").endswith("@triage.invalid>")


def test_customer_subject_cannot_inject_headers():
    raw = raw_mail(BODY, subject="harmless")
    mail = Mail(subject="Hallo\r\nBcc: evil@example.org\nX-Evil: yes", from_addr="a@example.org", body=BODY)
    forward = forward_message(raw, mail, _decision(), "support", 0, SENDER, uidvalidity=7, uid="1")
    head = forward.split(b"\r\n\r\n", 1)[0]
    assert b"\nBcc:" not in head and b"\nX-Evil:" not in head
    parsed = email.message_from_bytes(forward, policy=policy.default)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert parsed["Subject"] == "[triage] prgateway-support | Hallo Bcc: evil@example.org X-Evil: yes"


def test_non_ascii_subject_is_encoded_and_long_subjects_are_cut():
    raw = raw_mail(BODY, subject=encoded("Rückfrage zur Löschung " + "x" * 400))
    forward = _forward(raw)
    head = forward.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    subject = email.message_from_bytes(forward, policy=policy.default)["Subject"]
    assert subject.startswith("[triage] prgateway-support | Rückfrage zur Löschung xxx")
    assert len(subject) < 200 and subject.endswith("…")


@pytest.mark.parametrize("raw, encoding", [
    (raw_mail("plain ascii"), "7bit"),
    (raw_mail("Grüße"), "8bit"),
    (raw_mail("a" * 1200), "binary"),
])
def test_attached_original_declares_what_it_needs_on_the_wire(raw, encoding):
    forward = _forward(raw)
    parsed = email.message_from_bytes(forward, policy=policy.default)
    assert list(parsed.iter_parts())[1]["Content-Transfer-Encoding"] == encoding
    assert attached_bytes(forward) == raw


def test_original_without_final_newline_and_with_bare_lf_stays_byte_exact():
    raw = b"From: a@example.org\nSubject: lf only\nMessage-ID: <lf@example.org>\n\nno newline at the end"
    forward = _forward(raw)
    assert attached_bytes(forward) == raw
    inner = list(email.message_from_bytes(forward, policy=policy.default).iter_parts())[1].get_content()
    assert inner["Subject"] == "lf only"


def test_boundary_never_occurs_in_the_original():
    first = _forward(raw_mail(BODY))
    boundary = email.message_from_bytes(first, policy=policy.default).get_boundary()
    tricky = raw_mail(BODY + "\n--" + boundary + "\n--" + boundary + "--\n")
    forward = _forward(tricky)
    assert email.message_from_bytes(forward, policy=policy.default).get_boundary() != boundary
    assert attached_bytes(forward) == tricky


def test_alert_lists_own_portal_urls_first_and_is_urgent():
    raw = raw_mail(BODY + "\nWir haben eine Abmahnung erhalten.", subject=encoded("Löschung wegen Abmahnung"))
    decision = _decision(topic="deletion", group="deletion", group_address="deletion@example.com",
                         technical_problem=False, legal_warning=True, missing_details=(), draft_kind="deletion",
                         urls=("https://www.other-news.de/artikel/9", "https://www.example.com/pm/123",
                               "https://news.pr-gateway.de/release/77"))
    alert = alert_message(raw, parse_mail(raw), decision, "support", ALERTS, SENDER, uidvalidity=7, uid="42")
    parsed = email.message_from_bytes(alert, policy=policy.default)
    assert parsed["To"] == "cleanup@example.com"
    assert parsed[LOOP_HEADER] == "yes"
    assert parsed["Importance"] == "high" and parsed["X-Priority"].startswith("1")
    assert parsed["Subject"] == "[triage] URGENT legal warning: take down now | Löschung wegen Abmahnung"
    assert parsed["Message-ID"] == action_message_id("support", 7, "42", "alert", SENDER)
    text = body_text(alert)
    own_heading, other_heading = text.index("URLs on our own portals"), text.index("Other URLs")
    assert own_heading < text.index("https://www.example.com/pm/123") < other_heading
    assert own_heading < text.index("https://news.pr-gateway.de/release/77") < other_heading
    assert text.index("https://www.other-news.de/artikel/9") > other_heading
    assert attached_bytes(alert) == raw
    assert detect_automated(parse_mail(alert)) == "loop"


def test_alert_without_own_portal_urls_says_so():
    raw = raw_mail("Abmahnung! Bitte löschen: https://www.other-news.de/artikel/9")
    decision = _decision(topic="deletion", legal_warning=True, urls=("https://www.other-news.de/artikel/9",))
    alert = alert_message(raw, parse_mail(raw), decision, "support", ALERTS, SENDER, uidvalidity=7, uid="42")
    text = body_text(alert)
    assert "none named in the mail" in text
    assert text.index("Other URLs") < text.index("https://www.other-news.de/artikel/9")


def test_with_message_id_replaces_or_adds_only_the_header():
    raw = b"From: a@example.org\r\nMessage-ID:\r\n <old@example.org>\r\nSubject: s\r\n\r\nMessage-ID: in the body\r\n"
    replaced = with_message_id(raw, "<new@example.org>")
    assert replaced == (b"From: a@example.org\r\nMessage-ID: <new@example.org>\r\nSubject: s\r\n\r\n"
                        b"Message-ID: in the body\r\n")
    added = with_message_id(b"From: a@example.org\nSubject: s\n\nbody\n", "<new@example.org>")
    assert added == b"Message-ID: <new@example.org>\nFrom: a@example.org\nSubject: s\n\nbody\n"


@pytest.mark.parametrize("subject", [
    "Loeschung wegen Abmahnung",  # fits on one folded line: the stdlib would break right after "Subject:"
    "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k l m n o p q r s t u v",
    "Rückfrage zur Löschung " + "ü" * 100,
])
def test_our_subjects_parse_back_exactly_and_lines_stay_short(subject):
    raw = raw_mail(BODY, subject=encoded(subject))
    decision = _decision(legal_warning=True)
    for message, prefix in ((_forward(raw, decision), "[triage] prgateway-support | "),
                            (alert_message(raw, parse_mail(raw), decision, "support", ALERTS, SENDER, uidvalidity=7,
                                           uid="1"), "[triage] URGENT legal warning: take down now | ")):
        head = message.split(b"\r\n\r\n", 1)[0]
        assert max(len(line) for line in head.split(b"\r\n")) <= 100
        assert email.message_from_bytes(message, policy=policy.default)["Subject"] == prefix + subject


def test_one_line():
    assert one_line("a\r\nb\tc\x00d  e ") == "a b c d e"
    assert one_line("abcdef", limit=4) == "abc…"
