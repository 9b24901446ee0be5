"""Rules that recognise a technical problem (something does not work), as opposed to a how-to question.

The trained classifier (see `triage.model`) gives a second opinion;
`triage.training` measures both and records which combination the model
uses (``technical_rule`` in its metadata).
"""

from __future__ import annotations

import re

_PROBLEM = re.compile(
    r"fehler\w*|error\w*|funktionier\w*\s+(?:nicht|nich|nix|gar\s+nicht|immer\s+noch\s+nicht|leider\s+nicht)|"
    r"geht\s+(?:nicht|nich|gar\s+nicht|nix|immer\s+noch\s+nicht)|klappt\s+(?:nicht|nich|gar\s+nicht)|l(?:ä|ae)dt\s+(?:nicht|ewig|endlos)|"
    r"nicht\s+(?:mehr\s+)?(?:möglich|moeglich|geladen|angezeigt|gespeichert|veröffentlicht|veroeffentlicht|gepostet|geteilt|hochgeladen|versendet|erreichbar|funktionsfähig)|"
    r"fehlgeschlagen|abgestürzt|abgestuerzt|stürzt\s+ab|stuerzt\s+ab|hängt\s+sich|haengt|weiße\s+seite|weisse\s+seite|leere\s+seite|"
    r"kann\s+(?:mich\s+)?(?:nicht|kein)|können\s+(?:uns\s+)?nicht|kein(?:en)?\s+zugriff|bug\w*|kaputt|defekt|spinnt|"
    r"not\s+working|doesn'?t\s+work|does\s+not\s+work|don'?t\s+work|isn'?t\s+working|is\s+not\s+working|stopped\s+working|won'?t\s+(?:load|work|open|post|publish|save|upload|connect)|"
    r"fail(?:s|ed|ing|ure)?\b|can'?t\s+(?:log|sign|upload|save|connect|access|see|open|publish|post|find)|cannot\s+(?:log|sign|upload|save|connect|access|see|open|publish|post)|"
    r"unable\s+to|crash\w*|broken|blank\s+(?:page|screen)|white\s+screen|not\s+(?:loading|load|showing|published|posted|shared|saved|sent|displayed|appearing)|"
    r"no\s+longer\s+(?:works|posts|publishes|shows|loads)|keeps?\s+(?:loading|spinning|failing|saying)|stuck|timeout|timed\s+out|"
    r"\b(?:403|404|429|500|502|503|504)\b|wrong\s+(?:format|display)|verzerrt|distorted|pixelig|pixelated|disconnect\w*|getrennt|abgemeldet|logged\s+out",
    re.I,
)
_HOW_TO = re.compile(
    r"^\s*(?:wie\s+(?:kann|k(?:ö|oe)nnen|mache|geht|funktioniert|lege|stelle|finde|richte)|how\s+(?:do|can|to|does|should)|"
    r"gibt\s+es\s+(?:eine|die)\s+m(?:ö|oe)glichkeit|is\s+(?:it|there)\s+(?:possible|a\s+way)|kann\s+man|can\s+i|can\s+you\s+tell\s+me\s+how|where\s+(?:can|do)\s+i|wo\s+finde)",
    re.I | re.M,
)


def looks_technical(text: str) -> bool:
    """Problem wording that is not only a how-to question."""
    problems = len(_PROBLEM.findall(text))
    if problems == 0:
        return False
    return problems >= 2 or not _HOW_TO.search(text)
