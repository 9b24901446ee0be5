"""Tables of cases for URLs, legal warnings, escalation details, technical wording and deletion reasons."""

from __future__ import annotations

import pytest

from triage.deletion import gives_reason
from triage.details import is_image_upload, missing_details, present_details
from triage.legal import has_legal_warning
from triage.mail import Attachment
from triage.technical import looks_technical
from triage.urls import extract_urls, host, on_domains


@pytest.mark.parametrize("text,urls", [
    ("Bitte löschen: https://www.openpr.de/news/123/titel.html.", ["https://www.openpr.de/news/123/titel.html"]),
    ("see (www.lifepr.de/x/y), thanks", ["www.lifepr.de/x/y"]),
    ("openpr.de/news/9 und http://portal.example.com/a?b=1&c=2!", ["openpr.de/news/9", "http://portal.example.com/a?b=1&c=2"]),
    ("<https://a.de/x> and [https://b.com/(a)]", ["https://a.de/x", "https://b.com/(a)"]),
    ("https://a.de/x https://a.de/x/ HTTPS://A.DE/x", ["https://a.de/x"]),
    ("Mail an info@firma.de, Website www.firma.de.", ["www.firma.de"]),
    ("„https://www.presseportal-24.de/news/1“ und ‚www.news.de/2‘", ["https://www.presseportal-24.de/news/1", "www.news.de/2"]),
    ("Portal | www.lifepr.de/a | https://www.openpr.de/b;", ["www.lifepr.de/a", "https://www.openpr.de/b"]),
    ("keine Adresse hier, nur Text. z.B. etc.", []),
])
def test_extract_urls(text, urls):
    assert extract_urls(text) == urls


def test_own_portal_domains():
    own = ("pr-gateway.de", "prnews-portal.de")
    assert host("https://www.PR-Gateway.de/x") == "pr-gateway.de"
    assert on_domains("www.prnews-portal.de/a", own)
    assert on_domains("https://news.pr-gateway.de/a", own)
    assert not on_domains("https://www.openpr.de/a", own)
    assert not on_domains("https://notpr-gateway.de/a", own)


@pytest.mark.parametrize("text,legal", [
    ("Wir haben eine Abmahnung erhalten und müssen die Mitteilung löschen.", True),
    ("Die Kanzlei Meyer & Partner fordert eine strafbewehrte Unterlassungserklärung.", True),
    ("Gegen uns wurde eine einstweilige Verfügung erlassen.", True),
    ("Laut Urteil des LG Köln dürfen wir das nicht mehr veröffentlichen.", True),
    ("Sonst schalten wir unseren Anwalt ein.", True),
    ("Anbei das Anwaltsschreiben der Gegenseite.", True),
    ("We received a cease and desist letter regarding this release.", True),
    ("Our solicitors have sent a legal notice; please remove it.", True),
    ("There is a court order requiring removal.", True),
    ("If this is not removed we will take legal action.", True),
    ("Wir haben keine Zeit, aber eine Abmahnung erhalten.", True),
    ("Beim Handelsgericht wurde eine superprovisorische Verfügung erwirkt.", True),
    ("We got a legal letter about this release, please remove asap.", True),
    ("We act for the company; the publication is defamatory and our client reserves the right to issue proceedings.", True),
    ("Anbei das Schreiben der Gegenseite, bitte sofort löschen.", True),
    ("Wir stellen Ihnen gern die neue Fassung zur Verfügung.", False),
    ("Es gibt keine Abmahnung, reine Link-Hygiene.", False),
    ("Keine rechtlichen Schritte, nur veraltet.", False),
    ("This is not a legal matter, just outdated.", False),
    ("No lawyer involved, we just rebranded.", False),
    ("Bitte löschen Sie die alte Meldung, sie ist veraltet.", False),
    ("Amtsgericht Köln HRB 12345", False),
])
def test_legal_warning(text, legal):
    assert has_legal_warning(text) is legal


@pytest.mark.parametrize("text,present", [
    ("Win 11, Chrome Version 124.0.6367 über WLAN", ["os", "browser", "connection"]),
    ("macOS Sonoma 14.4 mit Firefox 126 (64-Bit) am Glasfaser/LAN", ["os", "browser", "connection"]),
    ("I use Safari 17.4 on iOS 17.5 over LTE", ["os", "browser", "connection"]),
    ("Ich nutze Chrome auf Windows", []),
    ("Edge on a Mac at home", []),
    ("Sie erreichen mich Mo–Fr 9–12 unter 0171 2345678.", ["reachability"]),
    ("call me on +44 20 7946 0958 in the mornings", ["reachability"]),
    ("SHOW-STOPPER, wir können nichts versenden", ["urgency"]),
    ("nicht eilig", ["urgency"]),
    ("no rush, nice to have", ["urgency"]),
    ("1. Login\n2. Neue Mitteilung\n3. Bild hochladen", ["steps"]),
    ("Zuerst habe ich mich eingeloggt, dann auf Speichern geklickt.", ["steps"]),
    ("First I logged in, then I clicked on Publish and selected LinkedIn.", ["steps"]),
    ("Steps to reproduce: 1) activate the plugin 2) open any page 3) click Edit", ["steps"]),
    ("I go to Settings > Team, enter her email and click Send invite.", ["steps"]),
    ("Dazu markiere ich die Tabelle in Excel, kopiere sie und füge sie im Editor ein.", ["steps"]),
    ("Beim Hochladen bricht der Upload ab, das Bild soll erst Ende des Monats raus.", []),
    ("Our press release about the new Save button is not published.", []),
    ("Das Logo (PNG, 2,4 MB, 4000x3000 px) lässt sich nicht hochladen", ["image"]),
])
def test_present_details(text, present):
    assert present_details(text) == present


def test_image_is_asked_only_for_image_uploads():
    assert "image" in missing_details("Das Bild lässt sich nicht hochladen.")
    assert "image" not in missing_details("Der Login geht nicht.")
    assert is_image_upload("upload of my photo fails")


def test_an_attached_image_answers_the_image_detail():
    shot = Attachment("logo.png", "image/png", 245_000, "PNG", 1920, 1080)
    assert "image" not in missing_details("Das Bild lässt sich nicht hochladen.", (shot,))
    pdf = Attachment("rechnung.pdf", "application/pdf", 1000)
    assert "image" in missing_details("Das Bild lässt sich nicht hochladen.", (pdf,))


@pytest.mark.parametrize("text,technical", [
    ("Beim Hochladen kommt eine Fehlermeldung.", True),
    ("Der Login funktioniert nicht mehr.", True),
    ("My posts are not published to LinkedIn anymore.", True),
    ("The page won't load, just a blank page.", True),
    ("Wie kann ich ein Bild in meine Mitteilung einfügen?", False),
    ("How do I schedule a post for next week?", False),
    ("Was kostet das Business-Paket?", False),
])
def test_technical_wording(text, technical):
    assert looks_technical(text) is technical


@pytest.mark.parametrize("text,reason", [
    ("Bitte löschen, die Firma wurde aufgelöst.", True),
    ("Please remove it because the information is outdated.", True),
    ("Bitte löschen Sie die Meldung www.openpr.de/1.", False),
])
def test_deletion_reason(text, reason):
    assert gives_reason(text) is reason
