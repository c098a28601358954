"""Reading what a request sends, where a client can send anything: numbers in the query
and form bodies. What cannot be read is a 400 page, never a failure.

    whole_number(text, low=, high=) -> int | None   ASCII digits only, bounded
    query_number(request, name, default=, low=, high=) -> int   a 400 page when malformed
    query_choice(request, name, choices) -> str | None   one of choices, a 400 page else
    form(request) -> the form (request.post()), a 400 page when the body cannot be read"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import BadContentDispositionHeader

if TYPE_CHECKING:
    from aiohttp.web_request import FileField
    from multidict import MultiDictProxy


def whole_number(text: str, *, low: int, high: int) -> int | None:
    """`text` as a whole number from low to high, else None. Only ASCII digits count:
    str.isdigit() also accepts "²" and "①", which int() refuses, and "٣", which it
    reads as 3; and the length is checked before int() ever sees thousands of digits."""
    if not (0 < len(text) <= len(str(high)) and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if low <= value <= high else None


def query_number(request: web.Request, name: str, *, default: int, low: int,
                 high: int) -> int:
    """The query's `name` as a number from low to high; `default` when it is not given,
    and a 400 page when it is given and is not such a number."""
    text = request.query.get(name)
    if text is None:
        return default
    value = whole_number(text, low=low, high=high)
    if value is None:
        raise web.HTTPBadRequest()
    return value


def query_choice(request: web.Request, name: str, choices: Collection[str]) -> str | None:
    """The query's `name` when it is one of `choices`; None when it is not given (or
    given empty, as a form's "any" option sends it), and a 400 page for anything else."""
    text = request.query.get(name, "")
    if not text:
        return None
    if text not in choices:
        raise web.HTTPBadRequest()
    return text


# What aiohttp raises for a body it cannot read: not UTF-8 (UnicodeDecodeError, a
# ValueError), a charset Python does not know (LookupError), a multipart body without a
# boundary or with broken parts (ValueError, or its own BadHttpMessage), a compressed body
# that does not decompress (RequestPayloadError). A part with a malformed Content-Disposition
# is only a warning to aiohttp, raised where warnings are errors (the tests): a 400 then too.
UNREADABLE_BODY = (ValueError, LookupError, HttpProcessingError, web.RequestPayloadError,
                   BadContentDispositionHeader)


async def form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | FileField]:
    """The posted form; a 400 page when its body cannot be read (a body too large is
    still aiohttp's 413)."""
    try:
        return await request.post()
    except UNREADABLE_BODY:
        raise web.HTTPBadRequest() from None
