"""An export's directory, written whole or not at all, and the tables in it.

The files are written into a hidden `.NAME.partial-XXXX` directory beside the target and
renamed to the target's name only once every file is closed and the export has been
audited: a directory with the target's name is always a whole export; a half-written
one is removed when the export fails, and if the process dies its name says what it is.
The target must not exist yet (an export never overwrites another)."""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from journal.errors import InvalidInput

Progress = Callable[[str, int, int | None], None]
"""Told (table, rows written so far, rows expected or None) as an export goes."""


def no_progress(table: str, rows: int, expected: int | None) -> None:
    return None


class ExportTargetExists(InvalidInput):
    """The output directory exists already: an export never writes over another."""


class AtomicDirectory:
    """`with AtomicDirectory(target) as d:` write files under `d.path`; call `d.commit()`
    to rename it to `target`. Leaving the block without commit removes it."""

    def __init__(self, target: Path) -> None:
        self.target = target
        if target.exists():
            raise ExportTargetExists(f"{target} exists already; name a new directory")
        parent = target.parent
        parent.mkdir(parents=True, exist_ok=True)
        self.path = parent / f".{target.name}.partial-{secrets.token_hex(4)}"
        self.path.mkdir(mode=0o700)
        self._done = False

    def __enter__(self) -> AtomicDirectory:
        return self

    def commit(self) -> Path:
        for name in os.listdir(self.path):
            with open(self.path / name, "rb") as handle:
                os.fsync(handle.fileno())
        if self.target.exists():
            raise ExportTargetExists(f"{self.target} appeared while the export ran")
        os.rename(self.path, self.target)
        self._done = True
        return self.target

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self._done:
            shutil.rmtree(self.path, ignore_errors=True)

    def write_json(self, name: str, value: Any) -> None:
        with open(self.path / name, "w", encoding="utf-8") as handle:
            json.dump(value, handle, ensure_ascii=False, indent=2, sort_keys=True)
            handle.write("\n")


@dataclass
class Column:
    """One column of a table, as the codebook describes it."""

    name: str
    type: str  # integer | string | code | codes | text | day
    description: str
    item: str | None = None  # the questionnaire item it holds, if any
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # lang: {value: label}


class Table:
    """A CSV file written a row at a time; counts its rows and reports progress."""

    def __init__(self, directory: Path, name: str, columns: Sequence[Column],
                 progress: Progress, expected: int | None = None) -> None:
        self.name = name
        self.columns = list(columns)
        self.rows = 0
        self._progress = progress
        self._expected = expected
        self._told = time.monotonic()
        self._handle: IO[str] = open(directory / f"{name}.csv", "w", encoding="utf-8",  # noqa: SIM115 (closed by close())
                                     newline="")
        self._writer = csv.writer(self._handle)
        self._writer.writerow([c.name for c in self.columns])

    def write(self, row: Iterable[Any]) -> None:
        self._writer.writerow(row)
        self.rows += 1
        if not self.rows % 1000:
            now = time.monotonic()
            if now - self._told >= 0.5:
                self._told = now
                self._progress(self.name, self.rows, self._expected)

    def close(self) -> None:
        self._handle.close()
        self._progress(self.name, self.rows, self._expected)


class Ndjson:
    """One resource type's NDJSON file (Bulk Data style): a JSON object a line."""

    def __init__(self, directory: Path, resource_type: str, progress: Progress) -> None:
        self.resource_type = resource_type
        self.name = f"{resource_type}.ndjson"
        self.count = 0
        self._progress = progress
        self._told = time.monotonic()
        self._handle: IO[str] = open(directory / self.name, "w", encoding="utf-8")  # noqa: SIM115

    def write(self, resource: dict[str, Any]) -> None:
        self._handle.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")))
        self._handle.write("\n")
        self.count += 1
        if not self.count % 1000 and time.monotonic() - self._told >= 0.5:
            self._told = time.monotonic()
            self._progress(self.resource_type, self.count, None)

    def close(self) -> None:
        self._handle.close()
        self._progress(self.resource_type, self.count, None)
