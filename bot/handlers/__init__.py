"""Routers in the order they are tried: strangers, staff, clients, then the catch-all."""

from __future__ import annotations

from aiogram import Router


def all_routers() -> list[Router]:
    from bot.handlers import clinician, common, enrol

    return [enrol.build_router(), clinician.build_router(), common.build_router()]
