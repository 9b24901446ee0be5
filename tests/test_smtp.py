"""The senders against a real SMTP server (aiosmtpd) and a real folder: TLS, AUTH, outages, timeouts."""

from __future__ import annotations

import socket
import time

import pytest

from triage.config import Delivery, Secret
from triage.errors import DeliveryError
from triage.smtp import MaildirSender, SmtpSender, make_sender
from smtp_sink import HOST, SmtpSink, free_port, smtp_sink, tls_files  # noqa: F401 (fixtures)

RAW = (b"From: triage@example.com\r\nTo: group@example.com\r\nSubject: test\r\nMessage-ID: <m1@example.com>\r\n"
       b"\r\nHello group.\r\n")


def _delivery(sink: SmtpSink, **kwargs) -> Delivery:
    return Delivery(kind="smtp", host=sink.host, port=sink.port, **{"security": "none", "timeout": 5.0, **kwargs})


def test_plain_smtp_hands_over_the_message_unchanged(smtp_sink):
    detail = SmtpSender(_delivery(smtp_sink)).send(RAW, "triage@example.com", ["group@example.com"])
    assert len(smtp_sink.received) == 1
    got = smtp_sink.received[0]
    assert got.content == RAW
    assert got.mail_from == "triage@example.com"
    assert got.rcpt_tos == ["group@example.com"]
    assert not got.tls
    assert "group@example.com" in detail and f"{HOST}:{smtp_sink.port}" in detail


def test_non_ascii_message_is_sent_as_8bitmime(smtp_sink):
    raw = RAW.replace(b"Hello group.", "Grüße an die Gruppe.".encode())
    SmtpSender(_delivery(smtp_sink)).send(raw, "triage@example.com", ["group@example.com"])
    assert smtp_sink.received[0].content == raw
    assert "BODY=8BITMIME" in smtp_sink.received[0].mail_options


def test_starttls_with_the_configured_ca_file(tls_files):
    with SmtpSink(starttls=tls_files.server_context()) as sink:
        SmtpSender(_delivery(sink, security="starttls", ca_file=tls_files.cert)).send(RAW, "a@example.com",
                                                                                     ["b@example.com"])
        assert sink.received[0].tls
        assert sink.received[0].content == RAW


def test_starttls_refuses_an_untrusted_certificate_by_default(tls_files):
    with SmtpSink(starttls=tls_files.server_context()) as sink:
        with pytest.raises(DeliveryError) as caught:
            SmtpSender(_delivery(sink, security="starttls")).send(RAW, "a@example.com", ["b@example.com"])
        assert f"{HOST}:{sink.port}" in str(caught.value)
        assert "certificate" in str(caught.value)
        assert sink.received == []


def test_verification_can_be_turned_off(tls_files):
    with SmtpSink(starttls=tls_files.server_context()) as sink:
        SmtpSender(_delivery(sink, security="starttls", verify=False)).send(RAW, "a@example.com", ["b@example.com"])
        assert sink.received[0].tls


def test_starttls_required_but_not_offered(smtp_sink):
    with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
        SmtpSender(_delivery(smtp_sink, security="starttls")).send(RAW, "a@example.com", ["b@example.com"])
    assert smtp_sink.received == []


def test_implicit_tls(tls_files):
    with SmtpSink(implicit_tls=tls_files.server_context()) as sink:
        SmtpSender(_delivery(sink, security="tls", ca_file=tls_files.cert)).send(RAW, "a@example.com", ["b@example.com"])
        assert sink.received[0].tls
        assert sink.received[0].content == RAW


def test_auth_over_starttls_with_the_password_from_the_environment(tls_files, monkeypatch):
    monkeypatch.setenv("TRIAGE_TEST_SMTP_PASSWORD", "s3cret-Pa55")
    with SmtpSink(starttls=tls_files.server_context(), users={"triage": "s3cret-Pa55"}) as sink:
        delivery = _delivery(sink, security="starttls", ca_file=tls_files.cert, username="triage",
                             password=Secret(env="TRIAGE_TEST_SMTP_PASSWORD"))
        SmtpSender(delivery).send(RAW, "a@example.com", ["b@example.com"])
        assert sink.received[0].login == "triage"


def test_wrong_password_is_a_delivery_error_that_never_shows_the_password(tls_files, monkeypatch, caplog):
    monkeypatch.setenv("TRIAGE_TEST_SMTP_PASSWORD", "wrong-Pa55word")
    with SmtpSink(starttls=tls_files.server_context(), users={"triage": "s3cret-Pa55"}) as sink:
        delivery = _delivery(sink, security="starttls", ca_file=tls_files.cert, username="triage",
                             password=Secret(env="TRIAGE_TEST_SMTP_PASSWORD"))
        with pytest.raises(DeliveryError) as caught:
            SmtpSender(delivery).send(RAW, "a@example.com", ["b@example.com"])
    message = str(caught.value)
    assert "login refused" in message and f"{HOST}:{sink.port}" in message
    assert "wrong-Pa55word" not in message
    assert "wrong-Pa55word" not in repr(delivery)
    assert "wrong-Pa55word" not in caplog.text
    assert sink.received == []


def test_missing_password_variable_names_the_variable(smtp_sink, monkeypatch):
    monkeypatch.delenv("TRIAGE_TEST_NO_SUCH_VAR", raising=False)
    delivery = _delivery(smtp_sink, username="triage", password=Secret(env="TRIAGE_TEST_NO_SUCH_VAR"))
    with pytest.raises(DeliveryError, match="TRIAGE_TEST_NO_SUCH_VAR"):
        SmtpSender(delivery).send(RAW, "a@example.com", ["b@example.com"])


def test_auth_on_a_server_without_auth_is_an_error(smtp_sink, monkeypatch):
    monkeypatch.setenv("TRIAGE_TEST_SMTP_PASSWORD", "x")
    delivery = _delivery(smtp_sink, username="triage", password=Secret(env="TRIAGE_TEST_SMTP_PASSWORD"))
    with pytest.raises(DeliveryError, match=f"{HOST}:{smtp_sink.port}"):
        SmtpSender(delivery).send(RAW, "a@example.com", ["b@example.com"])
    assert smtp_sink.received == []


def test_outage_is_a_delivery_error_and_the_server_can_come_back(smtp_sink):
    sender = SmtpSender(_delivery(smtp_sink))
    smtp_sink.stop()
    with pytest.raises(DeliveryError) as caught:
        sender.send(RAW, "a@example.com", ["b@example.com"])
    assert f"{HOST}:{smtp_sink.port}" in str(caught.value)
    assert "refused" in str(caught.value)
    smtp_sink.start()
    sender.send(RAW, "a@example.com", ["b@example.com"])
    assert len(smtp_sink.received) == 1


def test_a_server_that_never_answers_times_out():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind((HOST, 0))
        silent.listen(1)  # the kernel accepts the connection; nobody ever greets
        delivery = Delivery(kind="smtp", host=HOST, port=silent.getsockname()[1], security="none", timeout=0.5)
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="timed out"):
            SmtpSender(delivery).send(RAW, "a@example.com", ["b@example.com"])
        assert time.monotonic() - started < 3


def test_nothing_listening_on_a_fresh_port():
    delivery = Delivery(kind="smtp", host=HOST, port=free_port(), security="none", timeout=2.0)
    with pytest.raises(DeliveryError, match="connection refused"):
        SmtpSender(delivery).send(RAW, "a@example.com", ["b@example.com"])


def test_maildir_sender_writes_one_complete_message_per_recipient(tmp_path):
    delivery = Delivery(kind="maildir", maildir_root=tmp_path / "out")
    sender = make_sender(delivery)
    assert isinstance(sender, MaildirSender)
    detail = sender.send(RAW, "triage@example.com", ["Group@Example.com", "cleanup@example.com"])
    for address in ("group@example.com", "cleanup@example.com"):
        folder = tmp_path / "out" / address
        files = list((folder / "new").iterdir())
        assert [f.read_bytes() for f in files] == [RAW]
        assert list((folder / "tmp").iterdir()) == []
        assert (folder / "cur").is_dir()
        assert files[0].name in detail
    sender.send(RAW, "triage@example.com", ["group@example.com"])
    assert len(list((tmp_path / "out" / "group@example.com" / "new").iterdir())) == 2


def test_maildir_sender_keeps_odd_addresses_inside_the_root(tmp_path):
    sender = MaildirSender(Delivery(kind="maildir", maildir_root=tmp_path / "out"))
    sender.send(RAW, "triage@example.com", ["../../evil/x@example.com"])
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == 1
    assert (tmp_path / "out") in written[0].parents


def test_maildir_sender_failure_is_a_delivery_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the Maildir root should be")
    with pytest.raises(DeliveryError, match="cannot deliver"):
        MaildirSender(Delivery(kind="maildir", maildir_root=blocker)).send(RAW, "a@example.com", ["b@example.com"])
