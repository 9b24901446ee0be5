"""Escalation details a technical-problem report already gives, and those still missing.

The SPEC's keys: ``os``, ``browser``, ``connection``, ``steps``, ``image``
(image-upload problems only), ``reachability``, ``urgency``. A product or
browser named without a version is not yet a detail. An image attached to
the mail answers ``image`` by itself: format, size and pixel dimensions are
read from the file.
"""

from __future__ import annotations

import re

from triage.mail import Attachment

DETAIL_KEYS = ("os", "browser", "connection", "steps", "image", "reachability", "urgency")

_OS = re.compile(
    r"\b(?:windows|win)\s*(?:xp|vista|7|8(?:\.1)?|10|11|server\s*20\d\d)\b"
    r"|\bmac\s?os\s*(?:x\s*)?(?:\d+(?:\.\d+)*|sonoma|ventura|monterey|big\s+sur|catalina|mojave|sequoia|high\s+sierra|tahoe)"
    r"|\bos\s*x\s*\d+(?:\.\d+)*|\b(?:sonoma|ventura|monterey|big\s+sur|catalina|mojave|sequoia|high\s+sierra)\s*(?:\(?\d+(?:\.\d+)*\)?)?(?=\W|$)"
    r"|\b(?:ios|ipados|android|ubuntu|debian|fedora|linux\s+mint|mint|chrome\s?os|chromeos|harmonyos)\s*(?:version\s*)?\d+(?:\.\d+)*",
    re.I,
)
_BROWSER = re.compile(
    r"\b(?:google\s+)?(?:chrome|chromium|firefox|safari|edge|opera|brave|vivaldi|samsung\s+internet|internet\s+explorer|ie)"
    r"(?:\s+browser)?[\s,:(-]{0,4}(?:version|versie|vers\.|ver\.|v\.?)?\s*\d+(?:\.\d+)*"
    r"|\b(?:version|versie|vers\.|v\.?)\s*\d+(?:\.\d+)+\s*(?:of|von|des|vom)?\s*(?:google\s+)?(?:chrome|firefox|safari|edge|opera|brave)",
    re.I,
)
_CONNECTION = re.compile(
    r"\b(?:lan|w-?lan|wi-?fi|wifi|wlan-?verbindung|ethernet|lan-?kabel|netzwerkkabel|lte|[345]g|mobilfunk\w*|mobile\s+(?:data|daten|internet|network|connection)|"
    r"mobilen?\s+(?:daten|internet|hotspot)|hotspot|tethering|glasfaser\w*|fiber|fibre|v?dsl|adsl|kabel(?:internet|anschluss|modem)?|"
    r"cable\s+(?:internet|connection|broadband)|broadband|breitband|starlink|satellit\w*|firmennetz\w*|company\s+network|vpn)\b",
    re.I,
)
_NUMBERED = re.compile(r"^\s*(?:\d{1,2}[.)]|schritt\s+\d|step\s+\d|[-*•])\s+\S", re.I | re.M)
_INLINE_NUMBERED = re.compile(r"(?:^|\s|\()1[.)]\s.{3,200}?(?:\s|,|;)2[.)]\s", re.S)
_STEPS_MARKER = re.compile(
    r"steps?\s+(?:to\s+reproduce|i\s+(?:took|followed|did)|taken)|what\s+i\s+did|here\s+is\s+what\s+i\s+did|"
    r"schritte?\s*(?:zur\s+reproduktion|:)|folgendes\s+(?:habe\s+ich|gemacht)|so\s+bin\s+ich\s+vorgegangen|"
    r"mein\s+vorgehen|ich\s+bin\s+(?:wie\s+folgt|so)\s+vorgegangen|vorgehensweise",
    re.I,
)
_MENU_PATH = re.compile(r"\w[\w ]{0,25}\s(?:>|→|->|»)\s\w", re.I)
_SEQUENCE = re.compile(
    r"\b(?:zuerst|zunächst|zunaechst|dann|danach|anschließend|anschliessend|daraufhin|schließlich|schliesslich|"
    r"first(?:ly)?|then|after\s+that|afterwards|next|finally|subsequently|once\s+i)\b",
    re.I,
)
# Verbs of doing, in forms that name an action taken (not "beim Hochladen", "press release", "the Save button").
_ACTION = re.compile(
    r"\b(?:geklickt|klicke|klickte|angeklickt|gedrückt|gedrueckt|drücke|druecke|ausgewählt|ausgewaehlt|wähle|waehle|"
    r"hochgeladen|lade|eingegeben|gebe|eingetragen|trage|gespeichert|speichere|geöffnet|geoeffnet|öffne|oeffne|"
    r"eingeloggt|abgemeldet|abgeschickt|eingefügt|eingefuegt|füge|fuege|gegangen|gehe|"
    r"aufgerufen|rufe|markiere|kopiere|kopiert|tippe|getippt|"
    r"click(?:s|ed|ing)?|pressed|selected|uploaded|entered|typed|saved|opened|logged\s+in|went\s+to|go\s+to|"
    r"navigated|chose|choose|submitted|tried\s+to|inserted|dragged|tap(?:ped)?|copied|pasted)\b",
    re.I,
)
_REACH = re.compile(
    r"\berreich\w*|\banruf\w*|\brückruf\w*|\brueckruf\w*|\bruf\w*\s+(?:sie\s+)?(?:mich|uns)\b|\btelefonisch\b|\bzurückrufen|"
    r"\bcall\s+(?:me|us|back)\b|\breach\s+(?:me|us)\b|\bavailable\s+(?:by|on|at|from|until|between|all|today|tomorrow|mornings?|afternoons?)|"
    r"\b(?:phone|ring|text|whatsapp)\s+me\b|\bcontact\s+me\s+(?:by|on|at|via)\b|\bi\s+am\s+(?:in\s+the\s+office|free)\b|\bmy\s+(?:mobile|cell|number)\b"
    r"|\bunter\s+(?:der\s+)?(?:nummer|tel)|\bmobil\s*:?\s*\+?\d",
    re.I,
)
_URGENCY = re.compile(
    r"show[\s-]?stopper|limited\s+usability|nice\s+to\s+have|\bdringend\w*|\beilt\b|\beilig\w*|\burgent\w*|\basap\b|"
    r"so\s+schnell\s+wie\s+möglich|so\s+schnell\s+wie\s+moeglich|umgehend|as\s+soon\s+as\s+possible|\bcritical\b|\bkritisch\w*|"
    r"\bblocker\b|\bblockiert\b|\bblocks?\b|not\s+urgent|no\s+rush|nicht\s+eilig|kein\s+stress|kann\s+warten|can\s+wait|hat\s+zeit|"
    r"high\s+priority|hohe\s+priorität|prio(?:rität)?\s*(?:1|hoch)|deadline|time[\s-]sensitive|zeitkritisch|"
    r"stillstand|standstill|cannot\s+work|können\s+nicht\s+(?:mehr\s+)?arbeiten|geht\s+gar\s+nichts|nothing\s+works|top\s+priority",
    re.I,
)
_IMAGE_WORDS = re.compile(r"\b(?:bild\w*|foto\w*|photo\w*|grafik\w*|logo\w*|image\w*|picture\w*|jpe?g|png|gif|webp|heic|tiff?)\b", re.I)
_UPLOAD_WORDS = re.compile(r"upload\w*|hochlad\w*|hochgelad\w*|hochzulad\w*|einfüg\w*|einfueg\w*|insert\w*|attach\w*|anhäng\w*|hinzufüg\w*|add(?:ing)?\s+(?:an?\s+)?(?:image|photo|picture)", re.I)
_IMAGE_FORMAT = re.compile(r"\b(?:jpe?g|png|gif|webp|heic|tiff?|bmp|svg)\b", re.I)
_IMAGE_SIZE = re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:kb|mb|kib|mib|kbyte|mbyte|megabyte|kilobyte|bytes?)\b", re.I)
_IMAGE_DIMENSIONS = re.compile(r"\b\d{2,5}\s*[x×*]\s*\d{2,5}\b|\b\d{2,5}\s*(?:px|pixel)\b", re.I)


def is_image_upload(text: str) -> bool:
    """Whether the problem is about uploading an image."""
    return bool(_IMAGE_WORDS.search(text) and _UPLOAD_WORDS.search(text))


def present_details(text: str, attachments: tuple[Attachment, ...] = ()) -> list[str]:
    """The detail keys ``text`` (and attached images) already give, in SPEC order."""
    found = set()
    if _OS.search(text):
        found.add("os")
    if _BROWSER.search(text):
        found.add("browser")
    if _CONNECTION.search(text):
        found.add("connection")
    if _has_steps(text):
        found.add("steps")
    if _REACH.search(text):
        found.add("reachability")
    if _URGENCY.search(text):
        found.add("urgency")
    if any(a.width and a.height for a in attachments) or (
        _IMAGE_FORMAT.search(text) and _IMAGE_SIZE.search(text) and _IMAGE_DIMENSIONS.search(text)
    ):
        found.add("image")
    return [key for key in DETAIL_KEYS if key in found]


def missing_details(text: str, attachments: tuple[Attachment, ...] = ()) -> list[str]:
    """The detail keys still to ask for; ``image`` only for image-upload problems."""
    present = set(present_details(text, attachments))
    wanted = [key for key in DETAIL_KEYS if key != "image" or is_image_upload(text)]
    return [key for key in wanted if key not in present]


def _has_steps(text: str) -> bool:
    if len(_NUMBERED.findall(text)) >= 2 or _INLINE_NUMBERED.search(text) or _STEPS_MARKER.search(text):
        return True
    # Measured on the corpus' train split: one sequence word with one action, or two actions, agree best.
    actions = len(_ACTION.findall(text)) + len(_MENU_PATH.findall(text))
    return actions >= 2 or actions >= 1 and bool(_SEQUENCE.search(text))
