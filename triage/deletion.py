"""Facts about a deletion request: whether the writer gives a reason."""

from __future__ import annotations

import re

_REASON = re.compile(
    r"\b(?:weil|da\s+(?:wir|ich|die|der|das|es|unser\w*)|aufgrund|wegen|grund|begründ\w*|because|since\s+(?:we|i|the|our)|due\s+to|reason|as\s+(?:we|the|our)|"
    r"veraltet|nicht\s+mehr\s+aktuell|outdated|no\s+longer|not\s+(?:up\s+to\s+date|relevant|valid)|überholt|ueberholt|"
    r"aufgelöst|aufgeloest|insolven\w*|geschlossen|closed|umfirmiert|rebrand\w*|ausgeschieden|left\s+the\s+company|verlassen|"
    r"datenschutz|dsgvo|gdpr|privacy|persönlichkeitsrecht\w*|fehler\w*|falsch\w*|wrong|incorrect|mistake|link-?hygiene|hygiene|"
    r"verwechs\w*|nicht\s+freigegeben|not\s+approved|versehentlich|accidentally|by\s+mistake)\b",
    re.I,
)


def gives_reason(text: str) -> bool:
    """Whether a deletion request states why the release should go."""
    return bool(_REASON.search(text))
