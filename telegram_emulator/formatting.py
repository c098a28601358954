"""Telegram parse_mode handling for the emulator: markup in, plain text and entities out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EntityParseError", "parse_text", "utf16_len"]


class EntityParseError(ValueError):
    """Markup Telegram would refuse; str() is the text after 'can't parse entities: '."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets and text limits."""
    return len(text.encode("utf-16-le")) // 2


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Return (visible text, entities) the way Telegram renders `text` under `parse_mode`."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _HtmlParser(text).parse()
    if mode == "markdownv2":
        return _MarkdownParser(text, v2=True).parse()
    if mode == "markdown":
        return _MarkdownParser(text, v2=False).parse()
    if mode:
        raise _BadParseMode(parse_mode or "")
    return text, []


class _BadParseMode(EntityParseError):
    """Telegram answers 'Bad Request: unsupported parse_mode' for unknown modes."""


@dataclass
class _Open:
    tag: str
    entity_type: str | None
    offset: int
    extra: dict[str, Any] = field(default_factory=dict)
    source_offset: int = 0


def _finish(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Telegram drops empty entities and lists them by position, outer before inner.
    kept = [e for e in entities if e["length"] > 0]
    kept.sort(key=lambda e: (e["offset"], -e["length"]))
    return kept


_HTML_TAGS: dict[str, str | None] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ATTR_RE = re.compile(r"""\s*([a-zA-Z_-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")


class _Parser:
    """What both markups share: the text so far, its UTF-16 length, open entities."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.out: list[str] = []
        self.pos16 = 0
        self.stack: list[_Open] = []
        self.entities: list[dict[str, Any]] = []

    def _byte_offset(self, index: int) -> int:
        return len(self.src[:index].encode("utf-8"))

    def _emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.pos16 += utf16_len(chunk)


class _HtmlParser(_Parser):

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        src, i, n = self.src, 0, len(self.src)
        while i < n:
            ch = src[i]
            if ch == "&":
                i = self._entity(i)
            elif ch == "<":
                i = self._tag(i)
            else:
                j = i
                while j < n and src[j] not in "<&":
                    j += 1
                self._emit(src[i:j])
                i = j
        if self.stack:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"'
            )
        return "".join(self.out), _finish(self.entities)

    def _entity(self, i: int) -> int:
        end = self.src.find(";", i)
        name = self.src[i + 1 : end] if end != -1 else ""
        char: str | None = None
        if name in _HTML_NAMED:
            char = _HTML_NAMED[name]
        elif re.fullmatch(r"#[0-9]{1,7}", name):
            char = chr(int(name[1:]))
        elif re.fullmatch(r"#[xX][0-9a-fA-F]{1,6}", name):
            char = chr(int(name[2:], 16))
        if char is None:
            # Telegram keeps an unknown '&...' sequence as literal text.
            self._emit("&")
            return i + 1
        self._emit(char)
        return end + 1

    def _tag(self, i: int) -> int:
        end = self.src.find(">", i)
        if end == -1:
            raise EntityParseError(
                f"Unclosed start tag at byte offset {self._byte_offset(i)}"
            )
        body = self.src[i + 1 : end]
        if body.startswith("/"):
            self._close(body[1:].strip().lower(), i)
            return end + 1
        match = re.match(r"[a-zA-Z0-9-]*", body)
        name = match.group(0).lower() if match else ""
        if name not in _HTML_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {self._byte_offset(i)}'
            )
        attrs = {
            m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or ""
            for m in _ATTR_RE.finditer(body[len(name) :])
            if m.group(1)
        }
        entity_type = _HTML_TAGS[name]
        extra: dict[str, Any] = {}
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Unsupported start tag "span" at byte offset {self._byte_offset(i)}'
            )
        if name == "a":
            href = attrs.get("href", "")
            if href.startswith("tg://user?id="):
                entity_type = "text_mention"
                extra["user"] = {"id": int(href.split("=", 1)[1] or 0), "is_bot": False,
                                 "first_name": ""}
            else:
                extra["url"] = href
        elif name == "tg-emoji":
            extra["custom_emoji_id"] = attrs.get("emoji-id", "")
        elif name == "blockquote" and "expandable" in attrs:
            entity_type = "expandable_blockquote"
        elif name == "code" and self.stack and self.stack[-1].tag == "pre":
            # <pre><code class="language-x"> is one pre entity carrying the language.
            language = attrs.get("class", "").removeprefix("language-")
            if language:
                self.stack[-1].extra["language"] = language
            entity_type = None
        self.stack.append(_Open(name, entity_type, self.pos16, extra, i))
        return end + 1

    def _close(self, name: str, index: int) -> None:
        if not self.stack or self.stack[-1].tag != name:
            expected = f'"</{self.stack[-1].tag}>"' if self.stack else "no end tag"
            raise EntityParseError(
                f"Unmatched end tag at byte offset {self._byte_offset(index)}, "
                f'expected {expected}, found "</{name}>"'
            )
        opened = self.stack.pop()
        if opened.entity_type is None:
            return
        entity: dict[str, Any] = {
            "type": opened.entity_type,
            "offset": opened.offset,
            "length": self.pos16 - opened.offset,
        }
        entity.update(opened.extra)
        self.entities.append(entity)


_MD2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MD2_MARKERS = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough",
                "||": "spoiler"}
_MD1_MARKERS = {"*": "bold", "_": "italic"}


class _MarkdownParser(_Parser):
    def __init__(self, source: str, *, v2: bool) -> None:
        super().__init__(source)
        self.v2 = v2

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        src, i, n = self.src, 0, len(self.src)
        markers = _MD2_MARKERS if self.v2 else _MD1_MARKERS
        while i < n:
            ch = src[i]
            two = src[i : i + 2]
            if self.v2 and ch == "\\" and i + 1 < n:
                self._emit(src[i + 1])
                i += 2
            elif src.startswith("```", i):
                i = self._pre(i)
            elif ch == "`":
                i = self._code(i)
            elif self.v2 and two in ("__", "||"):
                self._toggle(two, markers[two], i)
                i += 2
            elif ch in markers:
                self._toggle(ch, markers[ch], i)
                i += 1
            elif ch == "[":
                self.stack.append(_Open("[", "text_link", self.pos16, {}, i))
                i += 1
            elif ch == "]" and self.stack and self.stack[-1].tag == "[":
                i = self._link_end(i)
            elif self.v2 and ch in _MD2_RESERVED:
                raise EntityParseError(
                    f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
                )
            else:
                self._emit(ch)
                i += 1
        if self.stack:
            opened = self.stack[-1]
            raise EntityParseError(
                "Can't find end of the entity starting at byte offset "
                f"{self._byte_offset(opened.source_offset)}"
            )
        return "".join(self.out), _finish(self.entities)

    def _toggle(self, marker: str, entity_type: str, index: int) -> None:
        if self.stack and self.stack[-1].tag == marker:
            opened = self.stack.pop()
            self.entities.append(
                {"type": entity_type, "offset": opened.offset,
                 "length": self.pos16 - opened.offset}
            )
            return
        if any(o.tag == marker for o in self.stack):
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {self._byte_offset(index)}"
            )
        self.stack.append(_Open(marker, entity_type, self.pos16, {}, index))

    def _literal_until(self, start: int, closing: str) -> tuple[str, int]:
        end = start
        while True:
            end = self.src.find(closing, end)
            # In MarkdownV2 an escaped closer ('\\)' or '\\`') belongs to the body.
            if end == -1 or not self.v2 or not self._escaped(end):
                break
            end += 1
        if end == -1:
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {self._byte_offset(start)}"
            )
        body = self.src[start:end]
        if self.v2:
            body = re.sub(r"\\([`)\\])", r"\1", body)
        return body, end + len(closing)

    def _escaped(self, index: int) -> bool:
        backslashes = 0
        while index - backslashes - 1 >= 0 and self.src[index - backslashes - 1] == "\\":
            backslashes += 1
        return backslashes % 2 == 1

    def _code(self, i: int) -> int:
        body, nxt = self._literal_until(i + 1, "`")
        offset = self.pos16
        self._emit(body)
        self.entities.append({"type": "code", "offset": offset, "length": utf16_len(body)})
        return nxt

    def _pre(self, i: int) -> int:
        body, nxt = self._literal_until(i + 3, "```")
        language = ""
        first, sep, rest = body.partition("\n")
        if sep and first and " " not in first:
            language, body = first, rest
        offset = self.pos16
        self._emit(body)
        entity: dict[str, Any] = {"type": "pre", "offset": offset, "length": utf16_len(body)}
        if language:
            entity["language"] = language
        self.entities.append(entity)
        return nxt

    def _link_end(self, i: int) -> int:
        if not self.src.startswith("(", i + 1):
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {self._byte_offset(i)}"
            )
        url, nxt = self._literal_until(i + 2, ")")
        opened = self.stack.pop()
        self.entities.append(
            {"type": "text_link", "offset": opened.offset,
             "length": self.pos16 - opened.offset, "url": url}
        )
        return nxt
