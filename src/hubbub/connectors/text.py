"""HTML from platforms as the plain text Hubbub stores and shows.

Platforms send posts, bios and feed entries as HTML fragments; Hubbub keeps
the sanitised HTML beside plain text, and the plain text is what matching,
classifying and the inbox read.
"""

from __future__ import annotations

import html as htmllib
import re

import nh3

# Tags that end a line or a block: they become line breaks before the tags go.
_BREAKS = re.compile(r"<\s*/?\s*(?:p|br|div|li|pre|blockquote|h[1-6]|tr)\b[^>]*>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*(?:\n\s*)+")


def plain_text(html: str) -> str:
    """What a reader sees in an HTML fragment: no tags, entities decoded, paragraphs
    and line breaks kept as line breaks, runs of white space collapsed."""
    if not html:
        return ""
    marked = _BREAKS.sub("\n", html)
    # nh3 with no tags allowed keeps the text and drops every tag (and the
    # contents of <script> and <style>); what it returns is still escaped.
    text = htmllib.unescape(nh3.clean(marked, tags=set()))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def plain_name(value: str) -> str:
    """A display name as plain text: markup someone typed into it is dropped."""
    return plain_text(value) if "<" in value or "&" in value else value.strip()
