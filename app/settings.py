"""Settings read once from the environment and .env (prefix STEADFAST_)."""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
from collections.abc import Mapping
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from journal.i18n import LANGUAGES
from journal.mailaddress import is_email_address


def networks(listed: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Comma-separated addresses or networks; ValueError on one that is neither."""
    return tuple(ip_network(part.strip(), strict=False) for part in listed.split(",")
                 if part.strip())


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it and never echoes a secret."""


class Settings(BaseSettings):
    """Everything the program can be told from outside.

    Secrets are SecretStr so that they never appear in a repr, a log line or a traceback.
    """

    model_config = SettingsConfigDict(
        env_prefix="STEADFAST_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///./steadfast.db"
    master_key_file: Path = Path("./steadfast.key")
    master_keys: SecretStr | None = None
    audit_checkpoint_file: Path | None = None
    """Where the audit checkpoint is kept, outside the database (docs/operations.md).
    Default: beside the key file, `<key file>.audit-checkpoint`; with inline
    STEADFAST_MASTER_KEYS there is none unless this is set."""
    default_timezone: str = "UTC"
    default_language: str = "en"  # one of journal.i18n.LANGUAGES
    default_checkin_time: str = "20:00"
    invite_ttl_hours: int = Field(default=72, ge=1, le=24 * 30)
    chat_hygiene: bool = True
    questionnaire: Path | None = None
    risk_rules: Path | None = None
    phases: Path | None = None
    """The program's treatment phases (default: journal/phases_default.toml)."""
    rating_days: int = Field(default=30, ge=7, le=180)
    """How often a clinician rates each domain the check-in tracks (default 30 days)."""
    appointments: Path | None = None
    """The program's appointment kinds and reminders (default: journal/appointments.toml)."""
    homework: Path | None = None
    """The program's homework library (default: journal/homework.toml)."""
    alert_detail: Literal["minimal", "full"] = "minimal"
    detail_ttl_minutes: int = Field(default=10, ge=1, le=24 * 60)
    # Days a discharged client's records are kept before their data key is destroyed.
    retention_days: int = Field(default=365, ge=1, le=36500)
    journal_view_ttl_minutes: int = Field(default=5, ge=1, le=24 * 60)
    later_delay_minutes: int = Field(default=60, ge=1, le=24 * 60)
    outbox_lease_seconds: int = Field(default=60, ge=1, le=3600)
    update_concurrency: int = Field(default=8, ge=1, le=64)
    """How many updates long polling handles at once (default 8); one person's are always
    handled one after the other, in order."""
    scheduler_enabled: bool = True
    """Run the scheduler tick in this process (default on). Every instance may run it: on
    PostgreSQL an advisory lock lets one at a time tick, and another takes over if it dies."""
    tick_seconds: int = Field(default=30, ge=5, le=600)
    """How often the scheduler works out what is due (default 30 s): prompts are at most
    this late."""
    checkin_window_hours: int = Field(default=12, ge=1, le=22)
    """How long a day's check-in stays open after its prompt (default 12 h); when it closes
    an unfinished day is marked missed. Below 23 h, so two days are never open at once."""
    reminder_delay_minutes: int = Field(default=120, ge=0, le=22 * 60)
    """A reminder this long after the prompt if the check-in was not started or finished
    (default 120 min; 0 sends no reminder). Only while the window is open."""
    catchup_days: int = Field(default=7, ge=1, le=31)
    """After downtime, how many local days back prompts and missed days are caught up
    (default 7); never before a client's enrolment or last resume."""
    crisis_phone: str = "988"
    crisis_text: str = "Text HOME to 741741"
    program_office_phone: str = ""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    """text: one readable line per event; json: one JSON object per line (time, level,
    logger, event, update_id, client), for a log shipper."""
    # -- watching the program (docs/operations.md) -----------------------------------------
    metrics_enabled: bool = False
    """Serve Prometheus metrics at /metrics (default off)."""
    metrics_user: str = ""
    metrics_password: SecretStr | None = Field(default=None, validate_default=True)
    """Basic auth for /metrics: both set, or neither (then /metrics is open to whoever
    reaches the port)."""
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """While polling, /metrics, /healthz and /readyz are served on their own small server
    at this address; with --webhook they are on the webhook server."""
    # -- delivery, escalation and the staff e-mail fallback --------------------------------
    delivery_base_backoff_seconds: float = Field(default=1.0, gt=0, le=60)
    """First retry delay after a transient Telegram failure; it doubles per attempt."""
    delivery_max_backoff_seconds: float = Field(default=300.0, gt=0, le=3600)
    """The longest wait between two attempts (default 300 s): after an outage every
    message is tried again within this long."""
    escalate_critical_minutes: int = Field(default=15, ge=1, le=24 * 60)
    escalate_high_minutes: int = Field(default=60, ge=1, le=24 * 60)
    escalate_elevated_minutes: int = Field(default=240, ge=1, le=7 * 24 * 60)
    """Minutes before an unacknowledged alert of each level goes to the supervisors (and
    again after as long, up to three times)."""
    program_name: str = Field(default="Steadfast", min_length=1, max_length=80)
    progress_report_day: int = Field(default=1, ge=1, le=28)
    """The day of the month (in the program's zone) on which last month's progress report
    drafts are made for each clinician to review and send (default 1)."""
    sharing_categories: str = "adherence,alerts,report,status,attendance"
    """What a client may be asked to share with a supervising officer (comma-separated,
    from adherence, alerts, report, status, attendance): a program narrows the list; a proposal
    without options offers all of these (docs/clinical.md)."""
    smtp_host: str = ""
    """The SMTP server for the staff e-mail fallback; empty: no e-mail fallback."""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_from: str = ""
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    email_fallback_minutes: int = Field(default=5, ge=0, le=24 * 60)
    """How long an alert, escalation or dead-letter notice may wait for Telegram before it
    goes to the staff member by e-mail as well."""
    # -- data out (journal/export/) ---------------------------------------------
    export_dates: Literal["days", "shift"] = "days"
    """How the research export writes a date: `days` since the participant's enrolment, or
    `shift`ed by a random number of days drawn per participant and export."""
    export_min_cell: int = Field(default=5, ge=1, le=1000)
    """Counts under this are left out of an export's summary tables (small cells)."""
    figures_by_clinician: bool = False
    """The program's figures also give each clinician's time to acknowledgement."""
    # -- the clinician's workspace (web/) ---------------------------------------
    web_host: str = "127.0.0.1"
    """Where the workspace listens in polling mode and under `steadfast web`."""
    web_port: int | None = Field(default=None, ge=1, le=65535)
    """The workspace's own port; unset: no workspace in polling mode (with a webhook it is
    served on the webhook's server when this or WEB_PUBLIC_URL is set)."""
    web_public_url: str = ""
    """The workspace's address as staff open it, e.g. https://steadfast.clinic.example; an
    https address also gives /workspace its Mini App button."""
    web_session_idle_minutes: int = Field(default=60, ge=1, le=24 * 60)
    web_session_max_hours: int = Field(default=8, ge=1, le=7 * 24)
    web_trusted_proxies: str = "127.0.0.1,::1"
    """Addresses or networks (comma-separated) of the reverse proxies in front of the
    workspace: only a request from one of them has its client's address taken from
    X-Forwarded-For (then X-Real-IP); from anywhere else those headers are ignored."""
    web_sign_in_failures_per_address: int = Field(default=10, ge=1, le=10_000)
    """Failed sign-ins a minute from one address before it is told to wait (429)."""
    web_sign_in_failures_overall: int = Field(default=100, ge=1, le=100_000)
    """Failed sign-ins a minute from everyone before everyone is told to wait."""

    @property
    def web_enabled(self) -> bool:
        return self.web_port is not None or bool(self.web_public_url)

    def web_base_url(self, port: int | None = None) -> str:
        """The address links point at: WEB_PUBLIC_URL, else this host and port."""
        if self.web_public_url:
            return self.web_public_url
        return f"http://{self.web_host}:{port or self.web_port or 8081}"

    @field_validator("web_public_url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http:// for a test)")
        return value.rstrip("/")

    @field_validator("web_trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        try:
            networks(value)
        except ValueError as exc:
            raise ValueError("must be IP addresses or networks such as 127.0.0.1,10.0.0.0/8, "
                             "separated by commas") from exc
        return value

    @property
    def trusted_proxies(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return networks(self.web_trusted_proxies)

    @field_validator("sharing_categories")
    @classmethod
    def _sharing(cls, value: str) -> str:
        known = ("adherence", "alerts", "report", "status", "attendance")  # journal.sharing.CATEGORIES
        names = [n.strip() for n in value.split(",") if n.strip()]
        if not names or any(n not in known for n in names):
            raise ValueError(f"must be one or more of {', '.join(known)}, comma-separated")
        return ",".join(names)

    @field_validator("telegram_api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _db(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must be a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")
        return value

    @field_validator("default_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not an IANA time zone name such as Europe/Madrid") from exc
        return value

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"must be one of: {', '.join(LANGUAGES)}")
        return value

    @field_validator("default_checkin_time")
    @classmethod
    def _time(cls, value: str) -> str:
        hours, _, minutes = value.partition(":")
        if not (f"{hours}{minutes}".isascii() and hours.isdigit() and minutes.isdigit()
                and len(hours) <= 2 and len(minutes) <= 2 and int(hours) < 24
                and int(minutes) < 60):
            raise ValueError("must be a time of day such as 20:00")
        return f"{int(hours):02d}:{int(minutes):02d}"

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        head, sep, tail = value.get_secret_value().partition(":")
        if not (sep and head.isdigit() and tail):
            raise ValueError("must look like 123456:ABC... as BotFather gives it")
        return value

    @field_validator("metrics_password")
    @classmethod
    def _metrics_auth(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            value = None
        if bool(info.data.get("metrics_user")) != (value is not None):
            raise ValueError("and STEADFAST_METRICS_USER go together: set both, or neither")
        return value

    @field_validator("smtp_from")
    @classmethod
    def _from(cls, value: str) -> str:
        if value and not is_email_address(value):
            raise ValueError("must be an e-mail address such as steadfast@clinic.example")
        return value

    def require_token(self) -> str:
        if self.bot_token is None:
            raise SettingsError("STEADFAST_BOT_TOKEN is not set: the bot needs the token BotFather gave")
        return self.bot_token.get_secret_value()


# Read by the command line or the tests, not by Settings; known, so never warned about.
OTHER_NAMES = ("STEADFAST_WEBHOOK_SECRET", "STEADFAST_TEST_PG_URL", "STEADFAST_REQUIRE_POSTGRES")
_warned: set[str] = set()


def unknown_names(environ: Mapping[str, str], env_file: Path | None = Path(".env")) -> list[str]:
    """One warning per STEADFAST_ name in the environment or .env that is no setting,
    naming the closest one (a typo would otherwise be ignored without a word)."""
    names = {name.upper() for name in environ if name.upper().startswith("STEADFAST_")}
    if env_file is not None and env_file.is_file():
        from dotenv import dotenv_values

        with contextlib.suppress(OSError, UnicodeDecodeError):  # reading the settings says
            names |= {name.upper() for name in dotenv_values(env_file, encoding="utf-8")
                      if name.upper().startswith("STEADFAST_")}
    known = ["STEADFAST_" + name.upper() for name in Settings.model_fields] + list(OTHER_NAMES)
    warnings = []
    for name in sorted(names - set(known)):
        closest = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean {closest[0]}?" if closest else ""
        warnings.append(f"{name} is not a Steadfast setting and is ignored{hint}")
    return warnings


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's report into one line that names the setting.
    Unknown STEADFAST_ names are warned about on standard error, once."""
    for warning in unknown_names(os.environ):
        if warning not in _warned:
            _warned.add(warning)
            print(f"steadfast: warning: {warning}", file=sys.stderr)
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except UnicodeDecodeError:
        raise SettingsError("the .env file is not UTF-8 text") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "STEADFAST_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name} {reason}") from None
