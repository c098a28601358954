"""The direction of dependencies holds: read from the source (ast), nothing is imported.

The rooms, top to bottom (LAYERS): cli/ -> process/ -> bot/ and web/ (side by side) -> app/
-> scheduler/ -> journal/ -> storage/. No module imports a room above its own, nor its
neighbour on the same floor (bot/ and web/ know nothing of each other); only bot/, process/
and cli/ (and web/, for the Mini App's sign-in check) may import aiogram.
telegram_emulator/ stands apart and imports none of them.
- Keys stay inside storage/: the modules that hold master or data keys (KEY_MODULES) are
  imported outside storage/ only by the composition root and the command line, which load
  the keyring from the settings and hand it to storage/ (KEY_HOLDERS). tests/ and bench/
  build stores of their own and are not checked.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Modules that hold keys: the keyring and data keys (crypto), client and system data keys
# (vault), the keyring's administration (keyring) and the audit chain's MAC key (audit).
KEY_MODULES = frozenset({"storage.crypto", "storage.vault", "storage.keyring",
                         "storage.audit"})
# The composition root, its start-up checks, and the command line with the demo open the keys.
KEY_HOLDERS = ("app.composition", "app.checks", "cli")
# Each room with the rooms it must never import; a room not listed is not one of ours.
LAYERS = {
    "cli": set(),
    "process": {"cli"},
    "bot": {"cli", "process", "web"},
    "web": {"cli", "process", "bot"},
    "app": {"cli", "process", "bot", "web"},
    "scheduler": {"cli", "process", "bot", "web", "app"},
    "journal": {"cli", "process", "bot", "web", "app", "scheduler"},
    "storage": {"cli", "process", "bot", "web", "app", "scheduler", "journal"},
    "telegram_emulator": {"cli", "process", "bot", "web", "app", "scheduler", "journal",
                          "storage"},
}
WITHOUT_AIOGRAM = ("app", "scheduler", "journal", "storage", "telegram_emulator")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def imports(path: Path, root: Path = ROOT) -> set[str]:
    """Every module a file imports, at the top or inside a function; `from a import b`
    counts as a and as a.b (b may be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's own package
                package = module_name(path, root).split(".")
                if path.name != "__init__.py":
                    package = package[:-1]
                base = ".".join(package[:len(package) - node.level + 1]
                                + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def reaches(names: set[str], package: str) -> set[str]:
    return {n for n in names if n == package or n.startswith(package + ".")}


def layer_breaks(path: Path, root: Path = ROOT) -> set[str]:
    name, names = module_name(path, root), imports(path, root)
    room = name.split(".")[0]
    bad: set[str] = set()
    for above in LAYERS.get(room, set()):
        bad |= reaches(names, above)
    if room in WITHOUT_AIOGRAM:
        bad |= reaches(names, "aiogram")
    return bad


def key_breaks(path: Path, root: Path = ROOT) -> set[str]:
    name = module_name(path, root)
    if name.startswith("storage") or any(
            name == holder or name.startswith(holder + ".") for holder in KEY_HOLDERS):
        return set()
    return imports(path, root) & KEY_MODULES


def test_no_room_imports_a_room_above_it_or_beside_it() -> None:
    checked = list(modules(*LAYERS))
    assert {module_name(p).split(".")[0] for p in checked} == set(LAYERS)  # every room walked
    broken = {module_name(p): sorted(layer_breaks(p)) for p in checked if layer_breaks(p)}
    assert broken == {}


def test_keys_are_imported_outside_storage_only_by_the_composition_root_and_cli() -> None:
    checked = list(modules(*(room for room in LAYERS if room != "storage")))
    broken = {module_name(p): sorted(key_breaks(p)) for p in checked if key_breaks(p)}
    assert broken == {}
    for module in KEY_MODULES:  # the rule names modules that exist
        assert (ROOT / (module.replace(".", "/") + ".py")).exists(), module


@pytest.mark.parametrize(("where", "line", "caught"), [
    ("journal/example.py", "from aiogram.types import Message\n", "aiogram.types"),
    ("scheduler/example.py", "import bot.outgoing\n", "bot.outgoing"),
    ("storage/example.py", "def f():\n    from journal import clock\n", "journal.clock"),
    ("storage/example.py", "from ..bot import app\n", "bot.app"),
    ("telegram_emulator/example.py", "from storage.records import Client\n", "storage.records"),
    ("app/example.py", "from bot.outgoing import Outgoing\n", "bot.outgoing"),
    ("app/example.py", "import aiogram\n", "aiogram"),
    ("web/example.py", "from bot.callbacks import AlertCb\n", "bot.callbacks"),
    ("bot/example.py", "from web.render import page\n", "web.render"),
    ("bot/example.py", "def f():\n    from process.run import run_bot\n", "process.run"),
    ("process/example.py", "from cli.base import CliError\n", "cli.base"),
    ("journal/example.py", "from app.settings import Settings\n", "app.settings"),
])
def test_the_layer_check_catches_a_forbidden_import(tmp_path: Path, where: str, line: str,
                                                    caught: str) -> None:
    path = tmp_path / where
    path.parent.mkdir(parents=True)
    path.write_text(line, encoding="utf-8")
    assert caught in layer_breaks(path, tmp_path)


@pytest.mark.parametrize(("where", "line", "broken"), [
    ("journal/example.py", "from storage.crypto import MasterKeyring\n", True),
    ("bot/handlers/example.py", "from storage import vault\n", True),
    ("scheduler/example.py", "import storage.keyring\n", True),
    ("cli/master_keys.py", "from storage.keyring import KeyringService\n", False),
    ("bot/handlers/cli.py", "from storage.keyring import KeyringService\n", True),
    ("storage/example.py", "from storage.crypto import seal\n", False),
    ("journal/example.py", "from storage.records import Client\n", False),
])
def test_the_key_check_catches_keys_outside_storage(tmp_path: Path, where: str, line: str,
                                                    broken: bool) -> None:
    path = tmp_path / where
    path.parent.mkdir(parents=True)
    path.write_text(line, encoding="utf-8")
    assert bool(key_breaks(path, tmp_path)) is broken
