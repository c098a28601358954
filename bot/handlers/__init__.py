"""Routers in the order they are tried: strangers, staff, clients, then the catch-all."""

from __future__ import annotations

from aiogram import Router


def all_routers() -> list[Router]:
    from bot.handlers import (
        alerts,
        appointments,
        checkin,
        clinician,
        common,
        enrol,
        entries,
        homework,
        mydata,
        phases,
        plan,
        preferences,
        review,
        schedule,
        team,
        workspace,
    )

    return [
        enrol.build_router(),
        clinician.build_router(),
        team.build_router(),  # the officer's door before any other staff router
        schedule.build_router(),
        phases.build_staff_router(),
        appointments.build_staff_router(),
        homework.build_staff_router(),
        checkin.build_router(),
        alerts.build_router(),
        workspace.build_router(),
        review.build_router(),  # staff /plan before the client's /plan
        plan.build_router(),
        mydata.build_router(),
        phases.build_client_router(),
        appointments.build_client_router(),  # an awaited reason before journal text
        homework.build_client_router(),  # an open answer before journal text
        preferences.build_router(),  # an awaited time before journal text
        entries.build_router(),
        common.build_router(),
    ]
