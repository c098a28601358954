"""The seeded history review tests use; it lives in journal/review/seed.py, beside the
demo and the benches that seed the same way."""

from journal.review.seed import PLAN, Seeded, daily_answers, seed_history

__all__ = ["PLAN", "Seeded", "daily_answers", "seed_history"]
