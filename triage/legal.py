"""Legal warnings in deletion requests: received or threatened, in German and English.

Tuned for recall: any legal term that is not negated in its own clause
counts. Negations ("keine Abmahnung", "not a legal matter") and company
registry lines ("Amtsgericht Köln HRB 1234") do not.
"""

from __future__ import annotations

import re

_TERMS = re.compile(
    r"abmahn\w*|unterlassung\w*|(?:einstweilig|superprovisorisch|vorsorglich|gerichtlich)\w*\s+verf(?:ü|ue)gung\w*|"
    r"\bverf(?:ü|ue)gung\s+des\s+\w*gerichts|gerichtsbeschlu\w*|gerichtsurteil\w*|\burteil\w*|"
    r"\bgericht(?:e|s|lich\w*)?\b|(?:handels|land|amts|oberlandes|bundes|verwaltungs|bezirks|kantons|zivil)gericht\w*|"
    r"\bklag(?:e|s|t|en)\w*|\bverklag\w*|schreiben\s+der\s+gegenseite|gegnerische\w*\s+(?:anwalt|anw(?:ä|ae)lt|seite|partei)\w*|"
    r"legal\s+letter|\bcounsel\b|\bdefamat\w*|\blibel\w*|\bslander\w*|\bproceedings\b|we\s+act\s+for|"
    r"verleumd\w*|rufsch(?:ä|ae)digend\w*|üble\s+nachrede|rechtsanwalt\w*|rechtsanw(?:ä|ae)lt\w*|\banw(?:a|ä|ae)lt\w*|anwaltskanzlei\w*|"
    r"\bkanzlei\b|anwaltsschreiben|rechtliche(?:n)?\s+schritte|juristische(?:n)?\s+schritte|rechtsweg|rechtsstreit\w*|"
    r"schadensersatz\w*|schadenersatz\w*|strafbewehrt\w*|ordnungsgeld\w*|"
    r"cease[\s-]+and[\s-]+desist|legal\s+notice|court\s+order\w*|\bcourt\b|injunction\w*|lawsuit\w*|\bsue\b|\bsuing\b|\bsued\b|"
    r"solicitor\w*|lawyer\w*|attorney\w*|legal\s+(?:action|proceedings|steps|measures|counsel|department|team|claim\w*)|"
    r"take\s+(?:this|it|the\s+matter)?\s*to\s+court|law\s*firm\w*|litigation|legal\s+warning|warning\s+letter|"
    r"damages\s+claim|claim\s+for\s+damages|dmca\s+(?:notice|takedown)",
    re.I,
)
_NEGATION = re.compile(
    r"\b(?:kein\w*|nicht|ohne|weder|no|not|without|nor|never|non)\s+(?:[\w-]+\s+){0,2}$",
    re.I,
)
_HARMLESS_AFTER = re.compile(r"^\W{0,3}\s*(?:[A-ZÄÖÜ][\wäöüß-]+\s*,?\s*)?(?:hrb|hra|vr|pr)\s*\d", re.I)
_NEGATED_AFTER = re.compile(r"^[^.;!?\n]{0,30}\b(?:nicht|not|keine|none)\s+(?:involviert|beteiligt|involved|needed|nötig|nötig)", re.I)


def legal_terms(text: str) -> list[str]:
    """The legal terms in ``text`` that are neither negated nor part of a registry line."""
    found = []
    for match in _TERMS.finditer(text):
        before = text[max(0, match.start() - 60) : match.start()]
        after = text[match.end() : match.end() + 40]
        if _NEGATION.search(before) or _HARMLESS_AFTER.match(after) or _NEGATED_AFTER.match(after):
            continue
        found.append(match.group(0).lower())
    return found


def has_legal_warning(text: str) -> bool:
    """Whether ``text`` cites a received or threatened legal warning."""
    return bool(legal_terms(text))
