"""Profiles the press path: the real `steadfast run` child under pyinstrument, on SQLite,
with Telegram's rate limit lifted (bench/lifted.py: the bot's own costs, not the limit's
waits), while bench/checkin.py's clients press check-in buttons (its 10/s, 25/s, 30/s
and saturation phases). Prints pyinstrument's text profile of the bot process.

A script that prints a profile, not a test. pyinstrument is a development tool
(`pip install pyinstrument`, or the project's `bench` extra). From the repository's root:

    .venv/bin/python bench/profile_press.py [--clients 50] [--seconds 8] [--html out.html]
        [--limited]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench.checkin as checkin  # noqa: E402
from bench.harness import Child  # noqa: E402


def profiled(output: Path, renderer: str) -> type[Child]:
    class Profiled(Child):
        """`python -m cli run` started under pyinstrument instead."""

        def __init__(self, argv: list[str], *rest: object, **kw: object) -> None:
            # A coarse interval: the fine timer costs too much on some machines.
            profiler = [argv[0], "-m", "pyinstrument", "-r", renderer, "-o", str(output),
                        "--interval=0.005"]
            if argv[1].endswith("lifted.py") or argv[1:3] == ["-m", "cli"]:
                argv = [*profiler, *argv[1:]]
            super().__init__(argv, *rest, **kw)  # type: ignore[arg-type]

        async def stop(self, grace: float = 30) -> None:
            await super().stop(grace=600)  # rendering a long profile takes a while

    return Profiled


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="steadfast-profile-") as tmp:
        output = Path(tmp) / ("profile.html" if args.html else "profile.txt")
        checkin.Child = profiled(output, "html" if args.html else "text")  # type: ignore[misc]
        name = "sqlite" if args.limited else checkin.LIFTED
        result = await checkin.measure(name, args, Path(tmp))
        if result.error:
            print("error:", result.error)
            return 1
        sat = result.phases["saturation"]
        print(f"saturation: {sat.per_second:.1f} presses/s, bot CPU per press "
              f"{sat.bot_cpu * 1000 / max(1, len(sat.latencies)):.1f} ms (under the profiler)")
        if not output.exists():
            print("no profile written; the bot's log ends:")
            print((Path(tmp) / name / "bot.log").read_text(errors="replace")[-3000:])
            return 1
        if args.html:
            args.html.write_bytes(output.read_bytes())
            print("profile written to", args.html)
        else:
            print(output.read_text())
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--html", type=Path, default=None, help="write an HTML profile there")
    parser.add_argument("--limited", action="store_true",
                        help="profile the bot as shipped, its sends paced at Telegram's limit")
    sys.exit(asyncio.run(main(parser.parse_args())))
