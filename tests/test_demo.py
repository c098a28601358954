"""`steadfast demo` on a machine with no token and no settings: the whole loop, exit 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.reading import times_without_zone

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_shows_the_whole_loop_and_keeps_what_it_made(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADFAST_")}
    env["PYTHONPATH"] = str(ROOT)
    kept = tmp_path / "kept"
    result = subprocess.run([sys.executable, "-m", "cli", "demo", "--keep", str(kept)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for seen in ("Dr Rivera: /invite", "Do you agree?", "[I agree] [No, thanks]",
                 "Daily check-in · 1 of", "help is available right now",
                 "Critical alert for client", "Dr Rivera pressed [Details]",
                 "acknowledged by Dr Rivera", "/caseload", "Session report for client"):
        assert seen in out, seen
    # Both alerts are acknowledged, so the caseload leaves no loose end for a new viewer.
    assert out.count("Handled: acknowledged by Dr Rivera.") == 2
    assert "Open alerts: none" in out
    # Every time the people read names its zone; the progress never shows a moving end.
    assert times_without_zone(out) == []
    totals = {int(total) for total in re.findall(r"Daily check-in · \d+ of (\d+)", out)}
    assert len(totals) == 1, totals
    assert "Traceback" not in out + result.stderr
    assert (kept / "report.pdf").read_bytes().startswith(b"%PDF")
    verify = subprocess.run(
        [sys.executable, "-m", "cli", "audit", "verify"], cwd=tmp_path, text=True,
        capture_output=True, timeout=60,
        env={**env, "STEADFAST_DATABASE_URL": f"sqlite+aiosqlite:///{kept}/steadfast.db",
             "STEADFAST_MASTER_KEY_FILE": str(kept / "steadfast.key")})
    assert verify.returncode == 0 and "intact" in verify.stdout
