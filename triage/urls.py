"""URLs named in a text: with or without scheme, no trailing punctuation, in order, once each."""

from __future__ import annotations

import re

_TLDS = (
    "de|com|net|org|at|ch|eu|info|io|biz|ws|co|uk|fr|nl|be|it|es|pl|in|us|ca|au|online|news|media|"
    "shop|blog|app|digital|agency|tv|me|ai|dev|berlin|koeln|hamburg|bayern|swiss|wien|tech|press"
)
_URL = re.compile(
    r"(?<![@\w.-])(?:"
    r"(?:https?://|ftp://)[^\s<>\"'«»]+"  # with scheme
    r"|www\.[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?:[/?#][^\s<>\"'«»]*)?"  # www. without scheme
    rf"|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:{_TLDS})/[^\s<>\"'«»]*"  # bare host with a path
    r")",
    re.I,
)
_TRAILING = ".,;:!?'\"»“”‘’*"
_PAIRS = {")": "(", "]": "[", "}": "{", ">": "<"}


def extract_urls(text: str) -> list[str]:
    """Every URL in ``text`` in order of appearance, without duplicates."""
    found: list[str] = []
    seen: set[str] = set()
    for match in _URL.finditer(text):
        url = _trim(match.group(0))
        key = url.lower().rstrip("/")
        if len(url) > 4 and key not in seen:
            seen.add(key)
            found.append(url)
    return found


def _trim(url: str) -> str:
    while url:
        last = url[-1]
        if last in _TRAILING:
            url = url[:-1]
        elif last in _PAIRS and url.count(last) > url.count(_PAIRS[last]):
            url = url[:-1]
        else:
            break
    return url


def host(url: str) -> str:
    """The host of a URL without scheme and leading ``www.``, lower-case."""
    bare = re.sub(r"^[a-z]+://", "", url, flags=re.I)
    name = re.split(r"[/?#:]", bare, maxsplit=1)[0].lower()
    return name[4:] if name.startswith("www.") else name


def on_domains(url: str, domains: tuple[str, ...]) -> bool:
    """Whether the URL's host is one of ``domains`` or a subdomain of one."""
    name = host(url)
    return any(name == d or name.endswith("." + d) for d in (d.lower().removeprefix("www.") for d in domains))
