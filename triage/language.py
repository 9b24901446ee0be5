"""Language of a mail's text, `de` or `en`: the only module that uses langdetect.

langdetect is the judge, made deterministic with a fixed seed. It costs a
few milliseconds a call, several times a parse, so a cheap stop-word count
answers first where the text leaves no doubt (many function words, nearly
all of one language) and langdetect decides every case that is close, short
or mixed. Greeting lines are dropped first, so a German "Hallo," above an
English body does not count.
"""

from __future__ import annotations

import re

from pathlib import Path

from langdetect import DetectorFactory, LangDetectException
from langdetect.detector_factory import PROFILES_DIRECTORY

DetectorFactory.seed = 0
# German, English and the languages customers most often write in instead.
# Loading 12 of langdetect's 55 profiles saves about 45 MB; a mail in any of
# the others still counts as en.
PROFILES = ("de", "en", "nl", "fr", "es", "it", "pt", "pl", "da", "sv", "no", "cs")
_factory: DetectorFactory | None = None

GERMAN = frozenset(
    """und der die das ist nicht ich sie wir mit für auf bei ein eine einen einem einer den dem des
    zu von im in wie was wann warum bitte danke vielen sehr auch noch schon aber oder wenn dass
    können könnten kann habe haben hat hatte wurde wurden wird werden sind bin mein meine unser
    unsere ihr ihre ihnen uns mir mich dies diese dieser nach über ob nur leider gerne hallo
    guten tag grüße freundlichen möchte möchten würde würden mfg keine kein gibt geht""".split()
)
ENGLISH = frozenset(
    """the and is are not you we with for on at a an to of in how what when why please thanks
    thank very also already but or if that can could have has had was were will would be been
    my our your their them us me this these there from about only unfortunately hello hi dear
    regards kind best would like should it its do does did don't i'm we're which any some""".split()
)
# Words both languages share are no evidence either way.
_SHARED = GERMAN & ENGLISH
_WORD = re.compile(r"[a-zäöüß']+")
_GREETING = re.compile(
    r"^\s*(?:hallo|hi|hey|moin|servus|grüezi|guten (?:tag|morgen|abend)|sehr geehrte|liebe|lieber|dear|hello|good (?:morning|afternoon))\b[^\n,!?.]{0,40}[,!]?\s*$",
    re.I | re.M,
)

# Measured on the training corpus: at 6 function words and an 85 % share the
# stop-word count never disagreed with the label and answered 95 % of mails.
FAST_MIN_WORDS = 6
FAST_SHARE = 0.85
SAMPLE_CHARS = 1200
LANGDETECT_CHARS = 500  # langdetect's cost grows with the text; this much decides the language


def detect_language(text: str) -> str:
    """``de`` or ``en`` for ``text``; any other language counts as ``en``."""
    text = _GREETING.sub("", text[: SAMPLE_CHARS * 2])[:SAMPLE_CHARS]
    german, english = stopword_counts(text)
    total = german + english
    if total >= FAST_MIN_WORDS:
        if german >= FAST_SHARE * total:
            return "de"
        if english >= FAST_SHARE * total:
            return "en"
    return _langdetect(text, german, english)


def stopword_counts(text: str) -> tuple[int, int]:
    words = _WORD.findall(text.lower())
    german = sum(1 for w in words if w in GERMAN and w not in _SHARED)
    english = sum(1 for w in words if w in ENGLISH and w not in _SHARED)
    return german, english


def warm_up() -> None:
    """Load the language profiles now rather than on the first close call."""
    _detector_factory()


def _detector_factory() -> DetectorFactory:
    global _factory
    if _factory is None:
        profiles = [(Path(PROFILES_DIRECTORY) / name).read_text(encoding="utf-8") for name in PROFILES]
        factory = DetectorFactory()
        factory.load_json_profile(profiles)
        _factory = factory
    return _factory


def _langdetect(text: str, german: int, english: int) -> str:
    try:
        detector = _detector_factory().create()
        detector.append(text[:LANGDETECT_CHARS])
        ranked = detector.get_probabilities()
    except LangDetectException:
        return "de" if german > english else "en"
    scores = {item.lang: item.prob for item in ranked}
    de, en = scores.get("de", 0.0), scores.get("en", 0.0)
    if de == en == 0.0:
        # Neither language: Dutch, Swiss dialect and the like lean on the stop words.
        return "de" if german > english else "en"
    return "de" if de > en else "en"
