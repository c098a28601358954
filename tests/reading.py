"""What a reader can rely on in any text the bot sends: every clock time names its zone."""

from __future__ import annotations

import re

# A clock time (08:55, 8:55, 08:55:10) not inside a longer number.
CLOCK = re.compile(r"(?<![\d:.])(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?![\d:])")
# What may follow it: an abbreviation (UTC, CET, CEST, EST), an offset (+03, -0500), Z,
# or the zone's name in brackets ("20:00 (Europe/Madrid)").
ZONE = re.compile(r"(?:Z\b|\s+(?:[A-Z]{2,5}\b|[+-]\d{2}(?::?\d{2})?\b)"
                  r"|\s*\((?:UTC|[A-Za-z_]+(?:/[A-Za-z_+-]+)+)\))")
# An example of what to type ("send a time such as 19:30") is not a moment anyone reads.
EXAMPLE = re.compile(r"(?:such as|por ejemplo|como(?: las)?)\s+$")
# A button's label in a transcript ("[20:00]", "Sam pressed [20:00]"): a choice offered
# right under the question that names the zone, not a moment a person reads.
BUTTON = re.compile(r"\[[^\]]*\]")


def times_without_zone(text: str) -> list[str]:
    """The lines of `text` holding a clock time that does not say its zone."""
    bad = []
    for line in text.splitlines():
        line = BUTTON.sub("[]", line)
        for found in CLOCK.finditer(line):
            if EXAMPLE.search(line[: found.start()]):
                continue
            if not ZONE.match(line, found.end()):
                bad.append(line.strip())
    return bad


# Where one timed entry of a text begins ("2026-03-02 08:55 CET"): alert lines start so.
MOMENT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


def repeated_phrases(text: str, phrases: list[str]) -> list[str]:
    """The phrases (alert reasons) said more than once within one timed entry of `text`:
    line breaks of a PDF's extracted text are read as spaces, so a reason wrapped onto the
    next line still counts."""
    flat = " ".join(text.split())
    starts = [m.start() for m in MOMENT.finditer(flat)] or [0]
    entries = [flat[a:b] for a, b in zip(starts, [*starts[1:], len(flat)], strict=True)]
    return [f"{phrase!r} in: {entry[:120]}" for entry in entries for phrase in phrases
            if entry.count(phrase) > 1]
