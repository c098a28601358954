"""The services reach handlers by name and with their real types, and the admin commands
build them without aiogram."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from app.composition import Services


def _callables() -> Iterator[Callable[..., Any]]:
    from bot.handlers import all_routers

    for router in all_routers():
        for observer in router.observers.values():
            for handler in observer.handlers:
                yield handler.callback
                for f in handler.filters or ():
                    yield f.callback


def test_every_handler_asks_for_a_service_by_its_name_and_its_type() -> None:
    # Services postpones its annotations and imports the service modules only when it builds
    # them, so the field types are read as the names they are written with.
    types = {f.name: f.type for f in dataclasses.fields(Services)}
    assert all(isinstance(t, str) and t.isidentifier() for t in types.values()), types
    checked = 0
    for callback in _callables():
        target = callback if inspect.isfunction(callback) else type(callback).__call__
        if not inspect.isfunction(target):
            continue  # aiogram's own filters (F.text, Command...)
        for name, parameter in inspect.signature(target).parameters.items():
            if name not in types:
                continue
            annotation = parameter.annotation  # a string: the handlers postpone annotations
            shown = annotation if isinstance(annotation, str) else annotation.__name__
            assert shown == types[name], f"{target.__qualname__}({name}: {shown})"
            checked += 1
    assert checked > 30  # the handlers do take their services from the dispatcher


def test_the_dispatcher_gets_every_service_under_its_field_name() -> None:
    names = [f.name for f in dataclasses.fields(Services)]
    assert "checkins" in names and "settings" in names and "store" in names
    fake = Services(**{name: object() for name in names})  # type: ignore[arg-type]
    assert list(fake.by_name()) == names
    assert all(fake.by_name()[name] is getattr(fake, name) for name in names)
