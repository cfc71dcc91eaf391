"""Message text as Telegram measures it: length in UTF-16 units, parts that fit, plain text.

Telegram takes at most 4,096 characters of text in a message (1,024 in a caption), counted in
UTF-16 code units after the HTML is parsed. The HTML source is never shorter than what it
shows, so a source that fits in the limit always fits; a longer one is split at line breaks
(never inside a tag: the bot's texts open and close their tags on one line).
"""

from __future__ import annotations

import html
import re

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def plain(text: str) -> str:
    """The text without HTML: what a message shows, to send when its markup is refused."""
    return html.unescape(_TAG.sub("", text))


def split(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """`text` in parts of at most `limit` units, cut at line breaks where possible."""
    if units(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if units(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        while units(line) > limit:  # one line longer than a message: cut it, never in a tag
            head = _cut(line, limit)
            parts.append(head)
            line = line[len(head) :]
        current = line
    if current:
        parts.append(current)
    return parts


def _cut(line: str, limit: int) -> str:
    """The longest start of `line` within `limit` units that ends outside a tag or entity."""
    end, used = 0, 0
    for index, char in enumerate(line):
        used += units(char)
        if used > limit:
            break
        end = index + 1
    head = line[:end]
    for opener, closer in (("<", ">"), ("&", ";")):
        at = head.rfind(opener)
        if at > 0 and closer not in head[at:]:
            head = head[:at]
    return head or line[:end]


def shorten(text: str, limit: int) -> str:
    """The first part of `text` that fits, marked as cut ("…")."""
    if units(text) <= limit:
        return text
    return split(text, limit - 1)[0].rstrip() + "…"
