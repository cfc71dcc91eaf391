"""Settings from the environment (.env) and the protocol file (TOML)."""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from datetime import date, time
from functools import cache
from importlib.util import find_spec
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.core.home import Home, HomeError, find_home

DEFAULT_PROTOCOL_FILE = Path(__file__).resolve().parents[1] / "protocol.toml"
TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
_HHMM = re.compile(r"^(\d{2}):(\d{2})$")


class ConfigError(Exception):
    """A setting or protocol value is missing or wrong; the message names the key and the reason."""


def _parse_ids(value: Any) -> list[int]:
    if value is None or value == "":
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, list | tuple):
        return [int(v) for v in value]
    ids = []
    for part in str(value).split(","):
        part = part.strip()
        if not part:
            continue
        if not re.fullmatch(r"-?\d+", part):
            raise ValueError(f"{part!r} is not a numeric Telegram id")
        ids.append(int(part))
    return ids


class Settings(BaseModel):
    """Process settings: environment variables, optionally from the home folder's .env file
    (`load_settings` reads both; a variable's name is its field's, in any case)."""

    model_config = ConfigDict(extra="ignore")

    telegram_bot_token: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///data/flexus.db"
    team_chat_ids: list[int] = Field(default_factory=list)
    admin_user_ids: list[int] = Field(default_factory=list)
    flexus_config: str = ""
    log_level: str = "INFO"
    # Start the bot's clock at this ISO instant (drills and tests); empty = real time.
    flexus_now: str = ""
    # Telegram's flood limits; lower them only for a local Bot API server or a test server.
    telegram_group_msgs_per_minute: int = 20
    telegram_msgs_per_second: int = 30
    # Seconds to wait for Telegram on each request before retrying it.
    telegram_timeout_seconds: float = 10.0
    # Webhook mode (`flexus-bot run --webhook`): the public HTTPS URL Telegram posts to, and the
    # secret it must send back in X-Telegram-Bot-Api-Secret-Token.
    webhook_url: str = ""
    webhook_secret: str = ""
    # Local HTTP server for the webhook and GET /healthz: port 0 = off in polling mode.
    http_host: str = "127.0.0.1"
    http_port: int = 0
    # Start-up waits this long for an unreachable database (it may be starting too), then stops.
    db_wait_seconds: float = Field(60.0, ge=0)
    # Push-style monitor (Uptime Kuma, healthchecks.io): fetched every interval while healthy.
    heartbeat_url: str = ""
    heartbeat_interval_seconds: float = Field(60.0, gt=0)
    # How often a running bot reads again what may change under it: the team chats, admins and
    # Gerencia stored from the chat, and ADMIN_USER_IDS in .env.
    settings_reload_seconds: float = Field(60.0, gt=0)
    # PostgreSQL: copies of the bot on one database run as one; the active copy holds a lease
    # this many seconds at a time, and a standby copy takes over at most this long after the
    # active one stops answering. 0 = no lease (one copy only). SQLite never uses it.
    lease_seconds: float = Field(10.0, ge=0)
    # How this copy names itself in the log, in /healthz and to the admins; empty = host name.
    copy_name: str = ""

    @field_validator("lease_seconds")
    @classmethod
    def _lease(cls, value: float) -> float:
        if 0 < value < 2:
            raise ValueError("must be 0 (no lease) or at least 2 seconds")
        return value

    @field_validator("team_chat_ids", "admin_user_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> list[int]:
        return _parse_ids(value)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value

    def check_token(self) -> None:
        """Raise ConfigError unless the bot token looks like one BotFather issues."""
        if not self.telegram_bot_token:
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN is not set: put the token BotFather gave you in .env"
            )
        if not TOKEN_PATTERN.match(self.telegram_bot_token):
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN is malformed: expected '<digits>:<secret>' as BotFather gives it"
            )


def settings_from_environment(env_file: Path | None) -> dict[str, str]:
    """Each setting's raw value: from the environment, else from `env_file` (the home folder's
    .env, never the working folder's by accident). Names in any case; others ignored."""
    fields = Settings.model_fields
    found: dict[str, str] = {}
    if env_file is not None:
        for key, value in dotenv_values(env_file, encoding="utf-8").items():
            if value is not None and key.lower() in fields:
                found[key.lower()] = value
    for key, value in os.environ.items():
        if key.lower() in fields:
            found[key.lower()] = value
    return found


def load_settings(home: Home | None = None, **overrides: Any) -> Settings:
    """Build Settings from the home folder's .env and the environment (`overrides` first;
    `_env_file=None` reads no .env); validation errors become a ConfigError that names the
    variable. Relative paths are inside the home folder."""
    if home is None:
        try:
            home = find_home()
        except HomeError as exc:
            raise ConfigError(str(exc)) from None
    env_file = overrides.pop("_env_file", home.env_file)
    try:
        settings = Settings(**{**settings_from_environment(env_file), **overrides})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, upper=True)) from None
    settings.database_url = normalize_database_url(settings.database_url, home)
    if settings.flexus_config:
        settings.flexus_config = str(home.resolve(settings.flexus_config))
    elif home.protocol_file is not None:
        settings.flexus_config = str(home.protocol_file)
    if settings.heartbeat_url and not settings.heartbeat_url.startswith(("http://", "https://")):
        raise ConfigError("HEARTBEAT_URL must be an http:// or https:// address")
    if re.search(r"/bot(\d+:[^/]*)?/?$", settings.telegram_api_url):
        # Telegram would then answer 404 to every call, which reads like a rejected token.
        raise ConfigError(
            "TELEGRAM_API_URL must be the API's root (e.g. https://api.telegram.org), without "
            "/bot or the token at the end: the bot adds /bot<token> itself"
        )
    return settings


_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def normalize_database_url(url: str, home: Home) -> str:
    """The async driver's URL: `postgresql://` and `postgres://` mean asyncpg, `sqlite://`
    means aiosqlite, and a relative SQLite path is inside the home folder."""
    text = url.strip()
    if text.startswith("postgres://"):
        text = "postgresql://" + text.removeprefix("postgres://")
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise ConfigError(
            "DATABASE_URL is not a database URL: use sqlite:///data/flexus.db or "
            "postgresql://user:password@host:5432/flexus"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise ConfigError(f"DATABASE_URL: {backend} is not supported; use SQLite or PostgreSQL")
    if parsed.drivername != _DRIVERS[backend]:
        parsed = parsed.set(drivername=_DRIVERS[backend])
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        parsed = parsed.set(database=str(home.resolve(parsed.database)))
    return parsed.render_as_string(hide_password=False)


def shown_url(url: str) -> str:
    """The database URL as printed: never with its password."""
    return make_url(url).render_as_string(hide_password=True)


# --- protocol file ---------------------------------------------------------------------------

WindowKind = Literal["comercial", "guardia"]


def _hhmm(value: str) -> time | None:
    match = _HHMM.match(value)
    if not match:
        raise ValueError(f"{value!r} is not HH:MM")
    hours, minutes = int(match[1]), int(match[2])
    if (hours, minutes) == (24, 0):
        return None  # end of day
    if hours > 23 or minutes > 59:
        raise ValueError(f"{value!r} is not a time of day")
    return time(hours, minutes)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Span(_Strict):
    """Local times of day: `start`, and `end` ("24:00" is the end of the day)."""

    start: str
    end: str

    @property
    def start_minute(self) -> int:
        start = _hhmm(self.start)
        assert start is not None
        return start.hour * 60 + start.minute

    @property
    def end_minute(self) -> int:
        end = _hhmm(self.end)
        return 24 * 60 if end is None else end.hour * 60 + end.minute


class WindowSpec(_Span):
    kind: WindowKind

    @model_validator(mode="after")
    def _order(self) -> WindowSpec:
        start, end = _hhmm(self.start), _hhmm(self.end)
        if start is None:
            raise ValueError("start cannot be 24:00")
        if end is not None and end <= start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


def _no_overlap(windows: list[WindowSpec]) -> list[WindowSpec]:
    ordered = sorted(windows, key=lambda w: w.start_minute)
    for before, after in pairwise(ordered):
        if after.start_minute < before.end_minute:
            raise ValueError(
                f"windows {before.start}-{before.end} and {after.start}-{after.end} overlap"
            )
    return ordered


class WindowsSpec(_Strict):
    weekday: list[WindowSpec] = [
        WindowSpec(kind="comercial", start="08:00", end="18:30"),
        WindowSpec(kind="guardia", start="18:30", end="22:00"),
    ]
    saturday: list[WindowSpec] = [
        WindowSpec(kind="comercial", start="08:00", end="13:00"),
        WindowSpec(kind="guardia", start="13:00", end="22:00"),
    ]
    sunday: list[WindowSpec] = [WindowSpec(kind="guardia", start="10:00", end="22:00")]
    holiday: list[WindowSpec] = [WindowSpec(kind="guardia", start="10:00", end="22:00")]

    _check = field_validator("weekday", "saturday", "sunday", "holiday")(_no_overlap)


class SupportSpec(_Strict):
    phone: str = "0351-5685000"
    timezone: str = "America/Argentina/Cordoba"
    holiday_country: str = "AR"
    extra_holidays: list[date] = []
    windows: WindowsSpec = WindowsSpec()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("holiday_country")
    @classmethod
    def _country(cls, value: str) -> str:
        if value.upper() not in supported_countries():
            raise ValueError(f"unknown holiday country {value!r}")
        return value.upper()

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("cannot be empty")
        return value.strip()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def fold(name: str) -> str:
    """A name as people may type it: no accents, any case ("Atencion" finds "Atención")."""
    decomposed = unicodedata.normalize("NFKD", name.strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


GERENCIA_SECTOR = "Gerencia"  # a team chat tied to this sector is where Gerencia is asked


class TeamSpec(_Strict):
    sectors: list[str] = [
        "Caja",
        "Administración",
        "Atención al cliente",
        "Presupuestos",
        "Gerencia",
    ]
    chat_sectors: dict[int, str] = {}

    @model_validator(mode="after")
    def _sectors(self) -> TeamSpec:
        if not self.sectors:
            raise ValueError("sectors: at least one sector is needed")
        if len(set(self.sectors)) != len(self.sectors):
            raise ValueError("sectors: a sector is listed twice")
        if any(not s.strip() or len(s) > 40 for s in self.sectors):
            raise ValueError("sectors: names must be 1 to 40 characters")
        for chat, sector in self.chat_sectors.items():
            if sector not in self.sectors:
                raise ValueError(f"chat_sectors: chat {chat} names unknown sector {sector!r}")
        return self

    def find(self, typed: str) -> str | None:
        """The sector `typed` names, with or without accents, in any case."""
        wanted = fold(typed)
        return next((s for s in self.sectors if fold(s) == wanted), None)


class ContingencySpec(_Strict):
    """What each sector does while FLEXUS is down (shown with the "falla general" message in
    the chats tied to that sector, and behind a button for everyone else), and what it is
    reminded of once FLEXUS is back (`after`; a sector without instructions hears nothing)."""

    sectors: dict[str, str] = {
        "Caja": "Cobrá en efectivo o con posnet aparte y anotá cada venta en la planilla de "
        "contingencia (cliente, productos, importe, forma de pago).",
        "Administración": "Anotá en papel los pagos, cobros y remitos que no puedas cargar, con "
        "fecha y hora; no rehagas nada en otro sistema.",
        "Atención al cliente": "Tomá los pedidos y reclamos en la planilla de contingencia con "
        "nombre y teléfono; avisale al cliente que lo llamamos cuando vuelva.",
        "Presupuestos": "Armá los presupuestos en la planilla de contingencia y avisá que el "
        "número se confirma cuando FLEXUS vuelva.",
    }
    after: str = Field(
        "FLEXUS volvió: cargá en FLEXUS lo que anotaste en papel durante la caída.",
        min_length=1,
        max_length=500,
    )

    def for_sector(self, sector: str | None) -> str | None:
        if sector is None:
            return None
        wanted = fold(sector)
        return next((text for name, text in self.sectors.items() if fold(name) == wanted), None)


class CheckSpec(_Strict):
    """A check of FLEXUS or of the office (`[[check]]`): `tcp` connects to host:port, `http`
    GETs a URL (expected status, optional text), `push` waits for the office's job to call
    /push/<secret> on the bot's HTTP server. No ICMP ping: it needs privileges."""

    name: str = Field(min_length=1, max_length=60)
    kind: Literal["tcp", "http", "push"]
    target: str = ""  # host:port (tcp), the URL (http); unused for push
    role: Literal["flexus", "office"] = "flexus"
    every_seconds: float = Field(60, ge=1, le=3600)
    timeout_seconds: float = Field(5, gt=0, le=60)
    down_after: int = Field(3, ge=1, le=20)  # failures in a row before it is down
    up_after: int = Field(2, ge=1, le=20)  # successes in a row before it is up again
    expect_status: int = Field(200, ge=100, le=599)
    expect_text: str = ""  # http: text that must appear in the body
    verify_tls: bool = True
    secret: str = ""  # push: the secret part of /push/<secret> (at least 16 characters)

    @model_validator(mode="after")
    def _target(self) -> CheckSpec:
        if self.kind == "tcp":
            host, _, port = self.target.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"check {self.name!r}: target must be host:port")
        elif self.kind == "http":
            if not self.target.startswith(("http://", "https://")):
                raise ValueError(f"check {self.name!r}: target must be an http(s):// URL")
        elif len(self.secret) < 16 or not re.fullmatch(r"[A-Za-z0-9_-]+", self.secret):
            raise ValueError(
                f"check {self.name!r}: a push check needs a secret of at least 16 letters, "
                "digits, - or _"
            )
        return self


class ChecksSpec(_Strict):
    """What the checks do besides being watched (`[checks]`)."""

    # A FLEXUS check down when someone reports counts as the confirmation: general at once.
    confirm_reports: bool = True
    # A FLEXUS check down this long with nobody reporting: the bot opens the incident itself.
    open_incidents: bool = True
    open_after_minutes: float = Field(3, ge=0)
    # Before the workday: every check runs this long before opening; one down is posted.
    morning_minutes: float = Field(15, ge=0)
    morning_all_good: bool = False  # also post "todo bien" when everything answers


class WorkdaySpec(_Strict):
    """When the office works (`[workday]`): local "HH:MM-HH:MM", or "" when it does not open.
    The morning check runs before the opening; availability is also measured inside these hours."""

    weekday: str = "08:00-18:30"
    saturday: str = "08:30-13:00"
    sunday: str = ""
    holiday: str = ""

    @field_validator("weekday", "saturday", "sunday", "holiday")
    @classmethod
    def _hours(cls, value: str) -> str:
        if value:
            start, sep, end = value.partition("-")
            opens, closes = _hhmm(start.strip()), _hhmm(end.strip()) if sep else None
            if opens is None or (closes is not None and closes <= opens):
                raise ValueError(f"{value!r} is not opening-closing hours like 08:00-18:30")
        return value

    def hours(self, kind: str) -> tuple[time, time] | None:
        """(opening, closing) of a kind of day (weekday, saturday, sunday, holiday)."""
        value: str = getattr(self, kind)
        if not value:
            return None
        start, _, end = value.partition("-")
        opens, closes = _hhmm(start.strip()), _hhmm(end.strip())
        assert opens is not None
        return opens, closes or time(23, 59)


class EscalationContact(_Strict):
    """Who is written, in order, when a general failure has no coordinator (`[[escalation]]`);
    none listed: the admins."""

    name: str = Field(min_length=1, max_length=80)
    telegram_id: int


class VendorTargets(_Strict):
    """The vendor's own times (`[vendor.targets]`), in minutes counted while support is open;
    a target left out is not measured."""

    # From the confirmed general failure to support answering the call.
    answer_minutes: float | None = Field(None, gt=0)
    # From the call to the vendor connecting to the server (the access given).
    connect_minutes: float | None = Field(None, gt=0)
    # From the call to FLEXUS working again (the all-clear).
    restore_minutes: float | None = Field(None, gt=0)

    def minutes(self) -> dict[str, float]:
        """The targets set, by kind ("answer", "connect", "restore")."""
        values = {
            "answer": self.answer_minutes,
            "connect": self.connect_minutes,
            "restore": self.restore_minutes,
        }
        return {kind: value for kind, value in values.items() if value is not None}


class VendorSpec(_Strict):
    targets: VendorTargets = VendorTargets()


class ValidationSpec(_Strict):
    # Sectors that must confirm FLEXUS works before the all-clear; empty = every sector with members.
    required_sectors: list[str] = []


class GerenciaContact(_Strict):
    name: str
    telegram_id: int = 0
    backup: bool = False
    # Shown when Gerencia does not answer, so the coordinator can call.
    phone: str = Field("", max_length=40)


class AccessSpec(_Strict):
    remote_tools: list[str] = ["AnyDesk", "TeamViewer"]

    @field_validator("remote_tools")
    @classmethod
    def _tools(cls, value: list[str]) -> list[str]:
        if not value or len(value) > 4:
            raise ValueError("list one to four tools")
        if any(not tool.strip() or len(tool) > 40 for tool in value):
            raise ValueError("tool names must be 1 to 40 characters")
        return value


class ClassificationSpec(_Strict):
    general_min_people: int = Field(2, ge=1)
    general_min_sectors: int = Field(2, ge=1)


class DeadlinesSpec(_Strict):
    confirmation_minutes: float = Field(5, gt=0)
    unconfirmed_close_minutes: float = Field(60, gt=0)
    coordinator_reminder_minutes: float = Field(20, gt=0)
    access_repeat_minutes: float = Field(5, gt=0)
    access_escalate_after: int = Field(3, ge=1)
    ack_reminder_minutes: float = Field(10, gt=0)
    ack_max_minutes: float = Field(60, gt=0)
    # A /caido read this long after it was written (the bot was down) first asks the group
    # whether FLEXUS still fails, instead of alerting everyone.
    stale_report_minutes: float = Field(30, gt=0)
    # Planned maintenance: the team is reminded this long before a window starts (0: never).
    maintenance_reminder_minutes: float = Field(60, ge=0)
    # A /caido this soon after an all-clear is a relapse of that incident.
    relapse_minutes: float = Field(30, ge=0)
    # A general failure nobody took for this long: the escalation contacts are written, one
    # every this many minutes, in order, until someone takes the case (0: never).
    escalation_minutes: float = Field(10, ge=0)


class LimitsSpec(_Strict):
    description_max_chars: int = Field(300, ge=20, le=3000)


class BackupSpec(_Strict):
    # A daily copy of the SQLite database (PostgreSQL: use pg_dump, see the README).
    enabled: bool = False
    at: str = "03:30"  # local time of the daily copy
    keep_days: int = Field(14, ge=1)
    folder: str = "backups"  # relative = inside FLEXUS_HOME

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        if _hhmm(value) is None:
            raise ValueError("must be a time of day before 24:00")
        return value

    @property
    def time_of_day(self) -> time:
        at = _hhmm(self.at)
        assert at is not None
        return at


DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class RecurringMaintenance(_Span):
    """A planned maintenance that comes back every week: `[[maintenance]]` in the protocol
    file. `days` are day names, or "holiday" (on a holiday only the windows naming it apply);
    a window whose `to` is not after its `from` ends the next day."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    days: list[str] = Field(min_length=1)
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    reason: str = Field("Mantenimiento programado", min_length=1, max_length=300)

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        days = [d.strip().lower() for d in value]
        for day in days:
            if day not in (*DAY_NAMES, "holiday"):
                raise ValueError(f"unknown day {day!r} (monday … sunday, or holiday)")
        return days

    @model_validator(mode="after")
    def _times(self) -> RecurringMaintenance:
        start, end = _hhmm(self.start), _hhmm(self.end)
        if start is None:
            raise ValueError("from cannot be 24:00")
        if end is not None and end == start:
            raise ValueError("from and to are the same time")
        return self

    @property
    def minutes(self) -> int:
        """How long it lasts (a window past midnight ends the next day)."""
        return (self.end_minute - self.start_minute) % (24 * 60) or 24 * 60

    @property
    def key(self) -> str:
        """What names this recurrence in the database (its occurrences are stored once)."""
        raw = f"{','.join(self.days)}|{self.start}|{self.end}|{self.reason}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


class ReportsSpec(_Strict):
    # Post the previous month's /metricas to the team chats on the first working day at 09:00.
    monthly: bool = False


class DrillSpec(_Strict):
    """Scheduled drills (`[drills]`): on the `week`-th `weekday` (-1: the last) of each of
    `months`, at `at` local time. No months: none scheduled (`/simulacro` still works)."""

    months: list[int] = []
    weekday: str = "monday"
    week: int = Field(1, ge=-1, le=4)
    at: str = "09:00"

    @field_validator("months")
    @classmethod
    def _months(cls, value: list[int]) -> list[int]:
        if any(not 1 <= m <= 12 for m in value):
            raise ValueError("months are 1 … 12")
        return sorted(set(value))

    @field_validator("weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        day = value.strip().lower()
        if day not in DAY_NAMES:
            raise ValueError(f"unknown day {value!r} (monday … sunday)")
        return day

    @field_validator("week")
    @classmethod
    def _week(cls, value: int) -> int:
        if value == 0:
            raise ValueError("week is 1 … 4, or -1 for the last")
        return value

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        if _hhmm(value) is None:
            raise ValueError("at is HH:MM")
        return value

    def time_of_day(self) -> time:
        found = _hhmm(self.at)
        assert found is not None
        return found


class Protocol(_Strict):
    """The protocol file: every value the customer's protocol fixes, with the protocol as default."""

    @model_validator(mode="after")
    def _known_sectors(self) -> Protocol:
        for sector in self.validation.required_sectors:
            if sector not in self.team.sectors:
                raise ValueError(f"validation.required_sectors: unknown sector {sector!r}")
        if not self.gerencia:
            raise ValueError("gerencia: at least one contact is needed")
        return self

    support: SupportSpec = SupportSpec()
    team: TeamSpec = TeamSpec()
    gerencia: list[GerenciaContact] = [GerenciaContact(name="Diego Alvarado")]
    validation: ValidationSpec = ValidationSpec()
    access: AccessSpec = AccessSpec()
    classification: ClassificationSpec = ClassificationSpec()
    deadlines: DeadlinesSpec = DeadlinesSpec()
    limits: LimitsSpec = LimitsSpec()
    backup: BackupSpec = BackupSpec()
    reports: ReportsSpec = ReportsSpec()
    maintenance: list[RecurringMaintenance] = []
    contingency: ContingencySpec = ContingencySpec()
    escalation: list[EscalationContact] = []
    check: list[CheckSpec] = []
    checks: ChecksSpec = ChecksSpec()
    workday: WorkdaySpec = WorkdaySpec()
    vendor: VendorSpec = VendorSpec()
    drills: DrillSpec = DrillSpec()

    @model_validator(mode="after")
    def _unique_checks(self) -> Protocol:
        names = [c.name for c in self.check]
        if len(names) != len(set(names)):
            raise ValueError("check: two checks have the same name")
        return self


def _describe(exc: ValidationError, *, upper: bool = False) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"]) or "(file)"
        if upper:
            key = key.upper()
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{key}: {message}")
    return "; ".join(lines)


def load_protocol(path: str | Path | None = None) -> Protocol:
    """Read the protocol file (or the built-in defaults) and validate every value."""
    source = Path(path) if path else DEFAULT_PROTOCOL_FILE
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"FLEXUS_CONFIG: file {source} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    try:
        return Protocol.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from None


@dataclass(frozen=True)
class Config:
    """Everything the running bot needs to know, loaded once at start-up."""

    settings: Settings
    protocol: Protocol
    home: Home | None = None


def load_config(home: Home | None = None, **overrides: Any) -> Config:
    if home is None:
        try:
            home = find_home()
        except HomeError as exc:
            raise ConfigError(str(exc)) from None
    settings = load_settings(home, **overrides)
    return Config(
        settings=settings, protocol=load_protocol(settings.flexus_config or None), home=home
    )


@cache
def supported_countries() -> frozenset[str]:
    """The library's country codes, read from its registry's source (no 10 MB import)."""
    try:
        spec = find_spec("holidays")
        assert spec is not None and spec.submodule_search_locations
        source = (Path(next(iter(spec.submodule_search_locations))) / "registry.py").read_text()
        countries = source[source.index("COUNTRIES") : source.index("FINANCIAL")]
        # Lines like:    "argentina": ("Argentina", "AR", "ARG"),   (class, code, aliases)
        codes = [
            code
            for entry in re.findall(r'^\s*"\w+": \(([^)]*)\)', countries, re.MULTILINE)
            for code in re.findall(r'"([A-Z]{2,3})"', entry)
        ]
        if len(codes) > 50:
            return frozenset(codes)
    except Exception:  # a library laid out otherwise: ask it the slow way
        pass
    import holidays

    return frozenset(holidays.list_supported_countries())
