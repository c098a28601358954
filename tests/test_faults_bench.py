"""The fault bench still measures: its short mode gets a handful of clients through their
check-ins while Telegram fails and the bot is killed, and a bench whose clients cannot
answer the bot's questionnaire says so and fails instead of printing clean zeros."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from journal.checkin.questionnaire_file import DEFAULT_FILE
from tests.e2e import ROOT

pytestmark = [pytest.mark.faults, pytest.mark.slow]

BENCH = ROOT / "bench" / "faults.py"
# This seed's first faults (the bench draws them from it): a 5xx burst on sendMessage, a
# 429 on edits, kill -9 of the bot, a 5 s outage of sending, another 429, and a 5xx after
# a message went out.
SEED = "680"


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH), *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=300)


def figure(output: str, name: str) -> str:
    found = re.search(rf"^  {name}\s+(.+)$", output, re.MULTILINE)
    assert found is not None, output
    return found.group(1)


def test_the_short_bench_saves_every_check_in_and_loses_nothing_under_faults() -> None:
    run = bench("--short", "--seed", SEED)

    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert figure(out, "check-ins told saved") == "5 of 5"
    # 5 clients x 15 answers, each shown as taken by the bot and found in the database.
    assert figure(out, "answers lost") == "0 of 75 the bot showed as taken"
    assert figure(out, "alerts lost") == "0 of 5 submitted high-risk check-ins"
    assert re.search(r"\d+\.\d s", figure(out, "answer to clinician, longest")), out
    assert re.search(r"^\s+1  kill -9 of the bot, then restart$", out, re.MULTILINE), out
    assert re.search(r"^\s+1  outage of sending only, 502$", out, re.MULTILINE), out
    assert "bench broken" not in out


def test_a_bench_that_cannot_find_its_buttons_says_it_is_broken(tmp_path: Path) -> None:
    # The bot is given a questionnaire whose answers read differently from the packaged
    # one the bench reads: its clients cannot find the button they mean to press.
    packaged = (ROOT / "journal" / DEFAULT_FILE).read_text(encoding="utf-8")
    assert packaged.count('en = "I stayed, or I looked for them"') == 1
    renamed = tmp_path / "questionnaire.toml"
    renamed.write_text(packaged.replace('en = "I stayed, or I looked for them"',
                                        'en = "I stayed there"'), encoding="utf-8")

    run = bench("--short", "--n", "3", "--intensity", "0", "--seed", SEED,
                "--env", f"STEADFAST_QUESTIONNAIRE={renamed}")

    assert run.returncode == 1, run.stdout + run.stderr
    assert figure(run.stdout, "check-ins told saved") == "0 of 3"
    assert "bench broken: 0 of 3 check-ins saved" in run.stdout
    assert "no button 'I stayed, or I looked for them' on item victim_access" in run.stdout
