"""A bare aiogram bot, the baseline of bench/checkin.py: what a press costs with nothing else.

Not run by hand; bench/checkin.py starts it as a child process the way it starts
`steadfast run`, with the same token and API URL variables:

    STEADFAST_BOT_TOKEN=... STEADFAST_TELEGRAM_API_URL=... python bench/bare_bot.py [--floor DB]

aiogram's own long polling; /start answers with one message with one button; each press is
answered with one edit of that message and one callback answer, nothing else. With --floor
it is the storage floor: each update is also sealed with AES-256-GCM (a fresh key, a random
nonce, associated data naming the column) and inserted into a SQLite file with one commit
per update, with the pragmas Steadfast uses (WAL, synchronous=NORMAL).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import time
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEYBOARD = InlineKeyboardMarkup(inline_keyboard=[[
    InlineKeyboardButton(text="Press", callback_data="press")]])


class Floor:
    """AES-GCM sealing and one SQLite commit per update."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.aead = AESGCM(AESGCM.generate_key(bit_length=256))
        self.db: Any = None

    async def open(self) -> None:
        import aiosqlite

        self.db = await aiosqlite.connect(self.path)
        await self.db.execute("PRAGMA journal_mode=WAL")
        await self.db.execute("PRAGMA synchronous=NORMAL")
        await self.db.execute("CREATE TABLE IF NOT EXISTS presses (id INTEGER PRIMARY KEY, "
                              "chat_id INTEGER, sealed BLOB, at REAL)")
        await self.db.commit()

    async def keep(self, chat_id: int, content: str) -> None:
        nonce = os.urandom(12)
        sealed = nonce + self.aead.encrypt(nonce, content.encode(), b"presses.sealed")
        await self.db.execute("INSERT INTO presses (chat_id, sealed, at) VALUES (?, ?, ?)",
                              (chat_id, sealed, time.time()))
        await self.db.commit()


async def main(floor_path: Path | None) -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(
        os.environ["STEADFAST_TELEGRAM_API_URL"]))
    bot = Bot(os.environ["STEADFAST_BOT_TOKEN"], session=session)
    dp = Dispatcher()
    floor = Floor(floor_path) if floor_path is not None else None
    if floor is not None:
        await floor.open()
    count = itertools.count(1)

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        if floor is not None:
            await floor.keep(message.chat.id, message.text or "")
        await message.answer("Press the button.", reply_markup=KEYBOARD)

    @dp.callback_query(F.data == "press")
    async def press(query: CallbackQuery) -> None:
        assert query.message is not None
        if floor is not None:
            await floor.keep(query.message.chat.id, f"{query.data} {query.id}")
        await bot.edit_message_text(text=f"Pressed {next(count)}.",
                                    chat_id=query.message.chat.id,
                                    message_id=query.message.message_id, reply_markup=KEYBOARD)
        await query.answer()

    try:
        await dp.start_polling(bot, handle_signals=True)
    finally:
        if floor is not None:
            await floor.db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--floor", type=Path, default=None,
                        help="seal and commit each update into this SQLite file")
    asyncio.run(main(parser.parse_args().floor))
