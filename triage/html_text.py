"""Readable plain text from an HTML mail body (standard library only).

Block elements become line breaks, table cells are separated by `` | ``,
links keep their target (``text (https://…)``) so no URL is lost, and
``<blockquote>`` content is prefixed with ``> `` like quoted plain text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK = {
    "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "pre", "section", "article", "header", "footer", "blockquote", "dl", "dt", "dd",
}
_SKIP = {"style", "script", "head", "title", "xml", "o:p"}


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip_depth = 0
        self.quote_depth = 0
        self.href_stack: list[str | None] = []
        self.link_text: list[str] = []
        self.in_cell = False

    def _break(self) -> None:
        text = "".join(self.current)
        text = re.sub(r"[ \t\u00a0]+", " ", text).strip()
        prefix = "> " * self.quote_depth
        self.lines.append(prefix + text if text else (prefix.rstrip() if self.quote_depth else ""))
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip_depth += 1
            return
        if tag in _BLOCK:
            self._break()
        if tag == "blockquote":
            self.quote_depth += 1
        elif tag in ("td", "th"):
            if self.in_cell:
                self.current.append(" | ")
            self.in_cell = True
        elif tag == "a":
            self.href_stack.append(dict(attrs).get("href"))
            self.link_text = []
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.current.append(alt)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if tag == "a" and self.href_stack:
            href = self.href_stack.pop()
            shown = "".join(self.link_text).strip()
            if href and re.match(r"(?i)(https?://|www\.)", href) and href.rstrip("/") not in shown:
                self.current.append(f" ({href})")
        if tag == "tr":
            self.in_cell = False
        if tag in _BLOCK:
            self._break()
        if tag == "blockquote":
            self.quote_depth = max(0, self.quote_depth - 1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("a",):
            self.handle_endtag(tag) if tag in _SKIP else None

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        data = data.replace("\r", "").replace("\n", " ")
        self.current.append(data)
        if self.href_stack:
            self.link_text.append(data)


def html_to_text(html: str) -> str:
    """Turn an HTML body into readable plain text."""
    collector = _TextCollector()
    try:
        collector.feed(html)
        collector.close()
    except AssertionError:  # malformed markup deep in html.parser: keep what was read
        pass
    collector._break()
    text = "\n".join(collector.lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
