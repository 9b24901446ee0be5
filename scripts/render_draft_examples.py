"""Render one example draft per case and language into docs/drafts/ (what agents receive).

    python scripts/render_draft_examples.py

The mails are run through the whole triage (parser, classifier, extraction,
templates); tests/test_draft_examples.py checks the files are current.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXAMPLES = {
    "technical.de": (
        "Sabine Krüger <s.krueger@krueger-moebel.de>", "Bild-Upload klappt nicht",
        "Hallo,\n\nseit heute Morgen kann ich in meiner Pressemitteilung kein Bild mehr hochladen. Es kommt immer "
        "die Fehlermeldung \"Upload fehlgeschlagen\". Ich arbeite mit Windows 11 und Firefox.\n\nMit freundlichen Grüßen\n"
        "Sabine Krüger\nKrüger Möbelwerkstatt",
    ),
    "technical.en": (
        "Rahul Mehta <rahul@mehta-webworks.in>", "Posts not published to LinkedIn",
        "Hi team,\n\nsince yesterday Blog2Social does not publish my scheduled posts to LinkedIn anymore, they just "
        "show as failed. I'm on macOS Sonoma 14.4 with Chrome 124 over Wi-Fi. It's urgent, our launch is on Friday.\n\n"
        "Thanks,\nRahul",
    ),
    "deletion.de": (
        "Thomas Berger <t.berger@berger-bau.de>", "Pressemitteilung löschen",
        "Guten Tag,\n\nbitte löschen Sie unsere Meldung www.openpr.de/news/1187342/Berger-Bau-eroeffnet-Niederlassung.html, "
        "sie ist nicht mehr aktuell.\n\nGruß\nThomas Berger",
    ),
    "deletion.en": (
        "Mark Ellison <mark@ellison-consulting.com>", "Remove old press release",
        "Hi,\n\nplease delete our press release from 2019 about the office opening, you can find it at "
        "www.presseportal-24.de/news/44120/ellison-opens-munich-office.\n\nBest,\nMark",
    ),
    "deletion-legal.de": (
        "Kanzlei-Assistenz Weber <assistenz@weber-recht.de>", "Dringend: Löschung wegen Abmahnung",
        "Sehr geehrte Damen und Herren,\n\nunser Mandant hat wegen der Pressemitteilung "
        "https://www.prnews-portal.de/wirtschaft/mandant-xyz-4412.html eine Abmahnung erhalten. Bitte entfernen Sie "
        "die Mitteilung umgehend von allen Portalen, auch von https://www.openpr.de/news/998877/mandant-xyz.html.\n\n"
        "Mit freundlichen Grüßen\nM. Weber",
    ),
    "deletion-legal.en": (
        "Claire Donovan <claire@donovan-pr.co.uk>", "Takedown request",
        "Hello,\n\nwe have received a cease and desist letter about our release at "
        "https://www.pr-gateway.de/pressemitteilungen/donovan-launch-2211 and need it taken down from every portal "
        "immediately.\n\nRegards,\nClaire Donovan",
    ),
}


ACKNOWLEDGED = {
    "acknowledgement.de": ("Petra Lang <p.lang@lang-steuer.de>", "Rechnung März",
                           "Guten Tag,\n\nbitte senden Sie mir die Rechnung für März noch einmal zu.\n\nDanke\nPetra Lang"),
    "acknowledgement.en": ("Jonas Berg <jonas@berg-studio.se>", "Quote for 20 releases",
                           "Hello,\n\nwhat would a package of 20 press releases cost for our agency?\n\nThanks,\nJonas"),
}


def render(engine) -> dict[str, str]:
    """Each example through the engine; the acknowledgement ones with acknowledgements switched on."""
    from dataclasses import replace

    from triage.engine import Engine

    out = _render(engine, EXAMPLES)
    config = replace(engine.config, drafts=replace(engine.config.drafts, acknowledge_other_topics=True))
    out.update(_render(Engine(config, engine.model), ACKNOWLEDGED))
    return out


def _render(engine, examples) -> dict[str, str]:
    out = {}
    for name, (sender, subject, body) in examples.items():
        raw = (f"From: {sender}\nTo: support@pr-gateway.de\nSubject: {subject}\nMessage-ID: <{name}@example.org>\n"
               f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{body}\n").encode()
        outcome = engine.triage_raw([raw], [name])[0]
        decision = outcome.decision
        head = (f"# {name}: topic {decision.topic}, language {decision.language}, technical {decision.technical_problem}, "
                f"legal {decision.legal_warning}, missing {list(decision.missing_details)}\n"
                f"# customer wrote:\n" + "".join(f"#   {line}\n" for line in body.split("\n")) + "\n")
        out[f"{name}.txt"] = head + (decision.draft or "(no draft)\n")
    return out


def main() -> int:
    from triage.cli import DEFAULT_CONFIG
    from triage.config import load_config
    from triage.engine import Engine

    target = ROOT / "docs" / "drafts"
    target.mkdir(parents=True, exist_ok=True)
    for name, text in render(Engine(load_config(DEFAULT_CONFIG))).items():
        (target / name).write_text(text, encoding="utf-8")
        print(f"wrote {target / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
