"""The parameters of one Bot API call, read the way Telegram reads them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from telegram_emulator.models import ApiError

_JSON_FIELDS = {
    "reply_markup", "entities", "caption_entities", "allowed_updates", "scope", "commands",
    "link_preview_options", "reply_parameters",
}
_MAX_UPLOAD = 50 * 1024 * 1024


@dataclass(frozen=True)
class _Upload:
    filename: str | None
    content_type: str | None
    data: bytes


class _Params:
    """Parameters of one call, from a form, multipart body, JSON body or query string."""

    def __init__(self, values: dict[str, Any], files: dict[str, _Upload]) -> None:
        self.values = values
        self.files = files

    def raw(self, name: str) -> Any:
        value = self.values.get(name)
        return None if value == "" else value

    def get_str(self, name: str) -> str | None:
        value = self.raw(name)
        return None if value is None else str(value)

    def get_int(
        self, name: str, *, missing: str | None = None, invalid: str | None = None
    ) -> int | None:
        value = self.raw(name)
        if value is None:
            if missing is not None:
                raise ApiError(400, missing)
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(400, invalid or f"Bad Request: invalid {name} specified") from None

    def get_bool(self, name: str) -> bool:
        value = self.raw(name)
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1") if value is not None else False

    def get_json(self, name: str) -> Any:
        value = self.raw(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
        return value

    def file(self, name: str) -> _Upload | str | None:
        """An uploaded file (field `attach://x` or the field itself), or a file_id/URL string."""
        value = self.raw(name)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = self.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise ApiError(400, f"Bad Request: file {value} not found in the request")
            return upload
        if name in self.files:
            return self.files[name]
        return None if value is None else str(value)

    def recorded(self) -> dict[str, Any]:
        """The parameters as tests read them: nested JSON decoded, uploads described."""
        out: dict[str, Any] = {}
        for key, value in self.values.items():
            if key in _JSON_FIELDS and isinstance(value, str):
                try:
                    out[key] = json.loads(value)
                except ValueError:
                    out[key] = value
            else:
                out[key] = value
        for key, upload in self.files.items():
            out[key] = {"file_name": upload.filename, "mime_type": upload.content_type,
                        "size": len(upload.data)}
        return out
