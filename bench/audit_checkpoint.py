"""What keeping the audit checkpoint costs an audited press: one audited transaction
(an event appended and committed) on SQLite with and without the checkpoint file, and the
file's write (temporary file, rename, no fsync) alone, against an fsync'd one.

    .venv/bin/python bench/audit_checkpoint.py [transactions]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from storage.audit import CheckpointFile
from storage.crypto import MasterKeyring
from storage.migrate import upgrade
from storage.uow import Store


async def audited(store: Store, n: int) -> list[float]:
    took = []
    for i in range(n):
        start = time.perf_counter()
        async with store.transaction() as uow:
            await uow.audit(at=datetime.now(UTC), actor="clinician:1", action="client.view",
                            detail=f"view {i}")
        took.append((time.perf_counter() - start) * 1000)
    return took


def line(name: str, took: list[float]) -> None:
    took = sorted(took)
    print(f"{name:<38} median {statistics.median(took):7.3f} ms   "
          f"p95 {took[int(len(took) * 0.95)]:7.3f} ms")


def fsynced(path: Path, n: int) -> list[float]:
    took = []
    for _ in range(n):
        start = time.perf_counter()
        with open(path, "wb") as out:
            out.write(b"x" * 200)
            out.flush()
            os.fsync(out.fileno())
        took.append((time.perf_counter() - start) * 1000)
    return took


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        ring = MasterKeyring.generate()
        stores = {}
        for kept in (False, True):
            url = f"sqlite+aiosqlite:///{folder}/bench-{kept}.db"
            await asyncio.to_thread(upgrade, url)
            checkpoint = CheckpointFile(Path(folder) / f"cp-{kept}") if kept else None
            stores[kept] = Store.open(url, ring, audit_checkpoint=checkpoint)
            await audited(stores[kept], 50)  # warm
        took: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(10):  # interleaved, so the machine's load weighs on both alike
            for kept in (False, True):
                took[kept] += await audited(stores[kept], n // 10)
        for kept in (False, True):
            line(f"audited transaction, checkpoint {'kept' if kept else 'off'}", took[kept])
            await stores[kept].close()
        key = os.urandom(32)
        file = CheckpointFile(Path(folder) / "alone")
        alone: list[float] = []
        for seq in range(1, n + 1):
            start = time.perf_counter()
            file.advance(key, seq, "ab" * 32, datetime.now(UTC))
            alone.append((time.perf_counter() - start) * 1000)
        line("checkpoint write alone (no fsync)", alone)
        line("the same write with fsync", fsynced(Path(folder) / "synced", min(n, 200)))


if __name__ == "__main__":
    import logging

    logging.disable(logging.INFO)  # the checkpoint's log line is not what is measured here
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
