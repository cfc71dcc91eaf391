"""Reliability through the real process: a bad day at Telegram, a burst, and kill -9 at any call.

1. The whole protocol while a seeded 20% of what the bot sends fails (429, 5xx, timeouts,
   dropped connections): it completes, every team chat gets every critical message, the process
   never dies, and every message that showed twice was reported as a possible duplicate.
   A send whose connection is cut after Telegram took it is resent, and reported.
2. A team chat that refuses the bot (403) for a moment: the admins are told once, the alert
   reaches the chat when it accepts the bot again, and the chat is marked reachable.
3. 30 reports and 300 votes in a burst, kill -9 while they are being handled, restart: every
   report and every vote is counted, the alert reached every chat once (or the extra copy was
   reported). SQLite always; PostgreSQL too when TEST_POSTGRES_URL is set.
4. kill -9 when the k-th call that changes what people see reaches Telegram (odd k: Telegram
   got it; even k: it never arrived), restart, and the protocol goes on: nothing lost.

The harness below (KillSwitchAPI, ProtocolRun, stored(), ...) is shared with the benchmark
scripts tests/bench/bench_faults.py, bench_burst.py and chaos_kill.py.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from models import (
    Acknowledgement,
    InboxUpdate,
    Incident,
    IncidentMessage,
    OutboxMessage,
    Report,
    TeamChat,
    Timer,
    ValidationAnswer,
    Vote,
)
from tests.e2e.conftest import (
    ADMIN_ID,
    GROUP_ADMIN,
    GROUP_CAJA,
    TOKEN,
    BotProcess,
    bot_env,
)
from tests.e2e.conftest import FULL_PROTOCOL as PROTOCOL
from tests.fakebotapi import (
    STATE_CHANGING,
    Call,
    FakeBotAPI,
    _Response,
    command_update,
    press_update,
    user,
)

# --- the harness -----------------------------------------------------------------------------

TEAM = (GROUP_CAJA, GROUP_ADMIN)
START = datetime.fromisoformat("2026-11-24T10:00:00-03:00")  # a Tuesday: support is open
ANA = user(101, "Ana", "Gómez")  # Caja, reports
LUIS = user(102, "Luis", "Pérez")  # Administración, confirms and coordinates
MARTA = user(103, "Marta", "Ríos")  # Administración
DIEGO = user(301, "Diego", "Alvarado")  # Gerencia: never started the bot privately
# PROTOCOL (the full-protocol test's) has short deadlines, so stored timers fall due during a
# run: the access request is repeated (and Diego answers only then), the acknowledgement
# reminder fires (and only then Marta reads).
# What every team chat must get, as a fragment of its text.
CRITICAL = {
    "alert": "FLEXUS con problemas",
    "general": "Falla general de FLEXUS",
    "all-clear": "FLEXUS nuevamente operativo",
    "summary": "Resumen del incidente #1",
}
# What the protocol run stores: who reported, who voted what, the validation, the "Entendido"s.
EXPECTED_REPORTS = {101}
EXPECTED_VOTES = {101: "fails", 102: "fails"}
EXPECTED_VALIDATION = {(1, "Caja"), (1, "Administración")}
EXPECTED_ACKS = {101, 103}
DUPLICATE_LINE = "may show twice"  # the bot's WARNING: delivered after a try that may have too
FAULTS_NO_403 = ("429", "500", "502", "timeout", "drop")


def make_bot(
    api: FakeBotAPI,
    workdir: Path,
    *,
    database_url: str | None = None,
    protocol: str = PROTOCOL,
    **extra: str,
) -> BotProcess:
    """The real `python -m bot run` process, configured like tests/e2e/conftest.py's `bot`."""
    env = bot_env(api, workdir, protocol, LOG_LEVEL="INFO", **extra)
    if database_url:
        env["DATABASE_URL"] = database_url
    return BotProcess(api=api, workdir=workdir, env=env)


def db_url(workdir: Path) -> str:
    """The SQLite database make_bot() uses by default."""
    return f"sqlite+aiosqlite:///{workdir / 'flexus.db'}"


class Lifeline:
    """Starts the bot with its clock at START and restarts it with the clock moved on, as the
    real one would be, so stored deadlines keep their meaning across a kill."""

    def __init__(self, bot: BotProcess, start: datetime = START) -> None:
        self.bot, self.start = bot, start
        self.t0 = time.monotonic()
        self.restarts = 0

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)

    def begin(self) -> None:
        self.t0 = time.monotonic()
        self.bot.start(FLEXUS_NOW=self.start.isoformat())

    def kill_and_restart(self) -> None:
        self.bot.kill()
        self.bot.start_only(FLEXUS_NOW=self.now().isoformat())
        self.restarts += 1


@dataclass
class _Trap:
    kind: str  # "late": answered after `delay`; "cut": the connection closes unanswered
    match: Callable[[str, dict[str, Any]], bool]
    times: int
    delay: float


class KillSwitchAPI(FakeBotAPI):
    """The fake Bot API, able to kill the bot when the k-th state-changing call arrives.

    Odd k: Telegram processes the call (the bot died before reading the answer). Even k: the
    call is lost (the bot died before it left). Either way the bot is restarted at once.
    `trap()` makes chosen calls go through but answers them too late, or not at all.
    """

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__(token)
        self.default_member_status = "member"  # everyone in these runs is in the team's groups
        self.state_changing = 0
        self.kill_at: int | None = None
        self.on_kill: Callable[[], None] | None = None
        self.killed: str | None = None  # what the k-th call was, for the chaos table
        self._traps: list[_Trap] = []

    def arm(self, k: int, on_kill: Callable[[], None]) -> None:
        self.kill_at, self.on_kill = k, on_kill

    def trap(
        self,
        kind: str,
        match: Callable[[str, dict[str, Any]], bool],
        *,
        times: int = 1,
        delay: float = 1.5,
    ) -> None:
        """The next `times` matching calls are processed, then answered after `delay` seconds
        ("late") or never ("cut": the connection closes, as a proxy or a network might)."""
        with self._cond:
            self._traps.append(_Trap(kind, match, times, delay))

    def _dispatch(self, method: str, params: dict[str, Any]) -> _Response:
        if method in STATE_CHANGING:
            with self._cond:
                self.state_changing += 1
                fire = self.state_changing == self.kill_at and self.on_kill is not None
            if fire:
                assert self.on_kill is not None and self.kill_at is not None
                processed = self.kill_at % 2 == 1
                text = str(params.get("text") or "").split("\n")[0][:40]
                self.killed = f"{method} {params.get('chat_id')} {text!r}" + (
                    "" if processed else " (lost)"
                )
                self.on_kill()
                if not processed:
                    with self._cond:
                        self.calls.append(Call(method, params, fault="kill"))
                        self._cond.notify_all()
                    return _Response(0, None)
        response = super()._dispatch(method, params)
        if response.status != 200 or response.payload is None:
            return response
        with self._cond:
            trap = next((t for t in self._traps if t.times > 0 and t.match(method, params)), None)
            if trap is None:
                return response
            trap.times -= 1
            call = next(c for c in reversed(self.calls) if c.params is params)
            call.fault = trap.kind
        if trap.kind == "cut":
            return _Response(0, None)
        return _Response(response.status, response.payload, trap.delay)


def send_to(chat_id: int, fragment: str) -> Callable[[str, dict[str, Any]], bool]:
    """Matches the sendMessage of a text with `fragment` to `chat_id`."""
    return lambda method, params: (
        method == "sendMessage"
        and params.get("chat_id") == chat_id
        and fragment in str(params.get("text"))
    )


class ProtocolRun:
    """The whole protocol, driven as the team would: each person acts once they see what they
    need (a button on a delivered message). Raises AssertionError when something never shows."""

    def __init__(self, api: FakeBotAPI, timeout: float = 60.0) -> None:
        self.api, self.timeout = api, timeout
        self.waiting = ""  # what the run waits for now (where it got stuck, if it does)

    def delivered(self, chat_id: int, fragment: str, after: int = 0) -> Call:
        self.waiting = f"{fragment!r} in chat {chat_id}"
        return self.api.wait_for(
            lambda c: (
                c.method == "sendMessage"
                and c.chat_id == chat_id
                and c.result is not None
                and fragment in c.text
            ),
            timeout=self.timeout,
            after=after,
        )

    def everywhere(self, fragment: str, after: int = 0) -> dict[int, Call]:
        return {chat: self.delivered(chat, fragment, after) for chat in TEAM}

    def press(self, chat_id: int, message: Call, who: dict[str, Any], data: str) -> None:
        self.api.push(press_update(chat_id, message.result["message_id"], who, data))

    def say(self, chat_id: int, who: dict[str, Any], text: str) -> None:
        self.api.push(command_update(chat_id, who, text))

    def run(self) -> None:
        api = self.api
        # Diego never opened a private chat with the bot: he is asked in the groups instead.
        api.fail(
            "sendMessage",
            chat_id=301,
            description="Forbidden: bot can't initiate conversation with a user",
        )
        # 1–3. Report, a confirmation from another sector: general failure
        self.say(GROUP_CAJA, ANA, "/caido No deja facturar")
        cards = self.everywhere(CRITICAL["alert"])
        mark = api.mark()
        self.press(GROUP_ADMIN, cards[GROUP_ADMIN], LUIS, "v:1:f")
        general = self.everywhere(CRITICAL["general"], after=mark)
        # 5. Luis claims and calls support. Luis never pressed Start: his panel, and what is
        # for him alone, comes in the group where he took the case.
        mark = api.mark()
        self.press(GROUP_ADMIN, general[GROUP_ADMIN], LUIS, "y:1")
        panel = self.delivered(GROUP_ADMIN, "Gestionás el reclamo del incidente #1", after=mark)
        self.say(GROUP_ADMIN, LUIS, "/contactado R-4471")
        # 6. Server access through Gerencia: Diego is asked where Luis took the case
        mark = api.mark()
        self.press(GROUP_ADMIN, panel, LUIS, "ax:1")
        self.delivered(GROUP_ADMIN, "necesita acceso al servidor", after=mark)
        # Diego answers the repeated request: a stored timer that must fire, kill or not.
        again = self.delivered(GROUP_ADMIN, "Recordatorio 1", after=mark)
        mark = api.mark()
        self.press(GROUP_ADMIN, again, DIEGO, "ag:1:0")
        self.delivered(GROUP_ADMIN, "Diego Alvarado dio acceso al servidor por AnyDesk", after=mark)
        # 7. Validation: each sector says FLEXUS works
        mark = api.mark()
        self.press(GROUP_ADMIN, panel, LUIS, "va:1")
        rounds = self.everywhere("¿FLEXUS funciona en tu sector?", after=mark)
        mark = api.mark()
        self.press(GROUP_CAJA, rounds[GROUP_CAJA], ANA, "vq:1:1:y")
        self.press(GROUP_ADMIN, rounds[GROUP_ADMIN], MARTA, "vq:1:1:y")
        self.delivered(GROUP_ADMIN, "Todos los sectores respondieron", after=mark)
        # 8. All-clear. The question is chatter (it may be dropped on a bad day): Luis asks again.
        question = None
        for _ in range(3):
            mark = api.mark()
            self.say(GROUP_ADMIN, LUIS, "/resuelto Si algo no carga, cerrá y abrí FLEXUS")
            try:
                question = self.delivered(GROUP_ADMIN, "¿Hay que reiniciar sesión", after=mark)
                break
            except AssertionError:
                continue
        assert question is not None, "the all-clear question never reached Luis"
        mark = api.mark()
        self.press(GROUP_ADMIN, question, LUIS, "rs:1:n")
        clears = self.everywhere(CRITICAL["all-clear"], after=mark)
        # Acknowledgements, then the summary
        self.press(GROUP_CAJA, clears[GROUP_CAJA], ANA, "ok:1")
        # Marta reads it once reminded (another stored timer)
        self.delivered(GROUP_ADMIN, "Falta que confirmen", after=mark)
        mark = api.mark()
        self.press(GROUP_ADMIN, clears[GROUP_ADMIN], MARTA, "ok:1")
        self.everywhere(CRITICAL["summary"], after=mark)


@dataclass
class Stored:
    """What the database holds at the end of a run."""

    reports: list[int]
    votes: dict[int, str]
    validation: set[tuple[int, str]]
    acks: set[int]
    inbox: Counter[str]
    pending_timers: list[tuple[int, str, datetime]]
    pending_outbox: int
    sent_rows: Counter[tuple[int, str]]  # (chat, text) of each send row delivered
    outbox_texts: set[tuple[int, str]]  # (chat, text) of every send row, whatever its status
    flagged: Counter[tuple[int, str]]  # ... of each one delivered after an uncertain try
    incident_status: str | None
    unreachable: list[int]
    cards: dict[int, int] = field(default_factory=dict)  # chat -> newest alert card id

    def overdue_timers(self, now: datetime, grace: float = 5.0) -> list[tuple[int, str]]:
        """Timers still pending well after they fell due (the bot's start-up grace is 3 s)."""
        limit = now - timedelta(seconds=grace)
        return [(i, kind) for i, kind, due in self.pending_timers if due < limit]

    def lost_reports(self, expected: set[int]) -> int:
        return len(expected - set(self.reports))

    def lost_votes(self, expected: dict[int, str]) -> int:
        return sum(1 for who, choice in expected.items() if self.votes.get(who) != choice)


def stored(database_url: str) -> Stored:
    return asyncio.run(_read(database_url))


async def _read(url: str) -> Stored:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as db:

            async def rows(statement: Any) -> list[Any]:
                return list((await db.execute(statement)).all())

            outbox = await rows(
                select(
                    OutboxMessage.chat_id,
                    OutboxMessage.method,
                    OutboxMessage.status,
                    OutboxMessage.payload,
                    OutboxMessage.duplicate_risk,
                )
            )
            sent_rows: Counter[tuple[int, str]] = Counter()
            flagged: Counter[tuple[int, str]] = Counter()
            outbox_texts: set[tuple[int, str]] = set()
            for chat_id, method, status, payload, risk in outbox:
                if method != "send":
                    continue
                key = (int(chat_id), str(json.loads(payload).get("text", "")))
                outbox_texts.add(key)
                if status == "sent":
                    sent_rows[key] += 1
                    flagged[key] += 1 if risk else 0
            cards: dict[int, int] = {}
            for chat_id, message_id in await rows(
                select(IncidentMessage.chat_id, IncidentMessage.message_id)
                .where(IncidentMessage.kind == "alert")
                .order_by(IncidentMessage.id)
            ):
                cards[int(chat_id)] = int(message_id)
            status = await rows(select(Incident.status).order_by(Incident.id).limit(1))
            return Stored(
                reports=[int(r[0]) for r in await rows(select(Report.user_id))],
                votes={int(u): str(c) for u, c in await rows(select(Vote.user_id, Vote.choice))},
                validation={
                    (int(r), str(s))
                    for r, s in await rows(
                        select(ValidationAnswer.round, ValidationAnswer.sector).where(
                            ValidationAnswer.works.is_(True)
                        )
                    )
                },
                acks={int(r[0]) for r in await rows(select(Acknowledgement.user_id))},
                inbox=Counter(str(r[0]) for r in await rows(select(InboxUpdate.status))),
                pending_timers=[
                    (int(i), str(k), d)
                    for i, k, d in await rows(
                        select(Timer.id, Timer.kind, Timer.due_at).where(Timer.status == "pending")
                    )
                ],
                pending_outbox=sum(1 for r in outbox if r[2] == "pending"),
                sent_rows=sent_rows,
                outbox_texts=outbox_texts,
                flagged=flagged,
                incident_status=str(status[0][0]) if status else None,
                unreachable=[
                    int(r[0])
                    for r in await rows(
                        select(TeamChat.chat_id).where(TeamChat.reachable.is_(False))
                    )
                ],
                cards=cards,
            )
    finally:
        await engine.dispose()


def wait_stored(
    database_url: str, ready: Callable[[Stored], bool], timeout: float = 60.0
) -> Stored:
    """Read the database until `ready` holds (or the time is up: the last reading)."""
    deadline = time.monotonic() + timeout
    while True:
        state = stored(database_url)
        if ready(state) or time.monotonic() >= deadline:
            return state
        time.sleep(0.2)


def settled(now: Callable[[], datetime]) -> Callable[[Stored], bool]:
    """Every update handled, nothing left to send, no timer overdue."""
    return lambda s: (
        s.inbox["received"] == 0 and s.pending_outbox == 0 and not s.overdue_timers(now())
    )


@dataclass
class Seen:
    """What the team saw, according to the fake Bot API."""

    critical: dict[str, dict[int, int]]  # kind -> chat -> copies delivered
    duplicate_sends: int  # the fake's count: extra copies of the same (chat, text)
    extra_copies: Counter[tuple[int, str]]  # copies of an outbox message beyond its rows
    calls: int  # state-changing calls the bot made
    faults: dict[str, int]

    @property
    def missing_critical(self) -> list[tuple[str, int]]:
        return [
            (kind, chat) for kind, per in self.critical.items() for chat, n in per.items() if n == 0
        ]


def seen(api: FakeBotAPI, state: Stored) -> Seen:
    sent = api.sent()
    delivered = Counter((int(c.chat_id or 0), c.text) for c in sent)
    # Only outbox messages count: a notice sent straight to Telegram ("algo falló") has no row.
    extra = Counter(
        {
            key: n - state.sent_rows[key]
            for key, n in delivered.items()
            if key in state.outbox_texts and n > state.sent_rows[key]
        }
    )
    return Seen(
        critical={
            kind: {
                chat: sum(1 for c in sent if c.chat_id == chat and text in c.text) for chat in TEAM
            }
            for kind, text in CRITICAL.items()
        },
        duplicate_sends=len(api.duplicate_sends()),
        extra_copies=extra,
        calls=len([c for c in api.calls if c.method in STATE_CHANGING]),
        faults=dict(api.fault_counts),
    )


def reported_duplicates(bot: BotProcess) -> int:
    return bot.log().count(DUPLICATE_LINE)


def unreported_duplicates(view: Seen, state: Stored) -> list[tuple[int, str]]:
    """Messages shown more often than the bot meant, with no copy flagged as a possible duplicate."""
    return [key for key, n in view.extra_copies.items() if n > 0 and state.flagged[key] == 0]


@dataclass
class RunResult:
    completed: bool
    stuck_at: str  # what never showed, when not completed
    state: Stored
    view: Seen
    reported: int  # "may show twice" lines in the bot's log
    alive: bool  # the process was still running at the end
    restarts: int
    killed: str | None  # the call at which the bot was killed
    overdue: list[tuple[int, str]]  # stored timers that never fired
    wall: float  # seconds from start-up to everything handled and sent
    workdir: Path | None  # kept when the run did not complete


def run_protocol(
    *,
    share: float = 0.0,
    kinds: tuple[str, ...] = FAULTS_NO_403,
    seed: int = 1,
    kill_at: int | None = None,
    timeout: float = 60.0,
) -> RunResult:
    """One whole protocol run in a fresh directory (for the benchmark scripts); the directory
    (bot.log, flexus.db) is kept when the run does not complete."""
    workdir = Path(tempfile.mkdtemp(prefix="flexus-reliability-"))
    api = KillSwitchAPI()
    api.start()
    bot = make_bot(api, workdir)
    url = db_url(workdir)
    completed = False
    try:
        life = Lifeline(bot)
        if share:
            api.inject_faults(share, kinds, seed=seed, timeout_delay=1.5)
            bot.env["TELEGRAM_TIMEOUT_SECONDS"] = "1"
        if kill_at is not None:
            api.arm(kill_at, life.kill_and_restart)
        start = time.monotonic()
        life.begin()
        run = ProtocolRun(api, timeout)
        try:
            run.run()
            completed, stuck_at = True, ""
        except AssertionError:
            completed, stuck_at = False, run.waiting
        state = wait_stored(url, settled(life.now), timeout=timeout if completed else 5.0)
        wall = time.monotonic() - start
        return RunResult(
            completed=completed,
            stuck_at=stuck_at,
            state=state,
            view=seen(api, state),
            reported=reported_duplicates(bot),
            alive=bot.process is not None and bot.process.poll() is None,
            restarts=life.restarts,
            killed=api.killed,
            overdue=state.overdue_timers(life.now()),
            wall=wall,
            workdir=None if completed else workdir,
        )
    finally:
        if bot.process is not None:
            bot.kill()
        api.stop()
        if completed:
            shutil.rmtree(workdir, ignore_errors=True)


# --- the tests -------------------------------------------------------------------------------


@pytest.fixture
def fake_api() -> Iterator[KillSwitchAPI]:
    api = KillSwitchAPI()
    api.start()
    yield api
    api.stop()


@pytest.fixture
def bot(fake_api: KillSwitchAPI, tmp_path: Path) -> Iterator[BotProcess]:
    process = make_bot(fake_api, tmp_path)
    yield process
    if process.process is not None:
        process.kill()


class StaleCard(AssertionError):
    """The card a chat shows does not match what is stored."""


# On PostgreSQL, concurrent votes each render the card from their own snapshot
# (handlers/votes.py → refresh_cards) and the newest edit row by id, not by commit order, wins
# the folding (bot/transport/delivery/worker.py), so after a burst the card can miss a vote or two until the next
# change; every vote is stored. Only that check is expected to fail there (SQLite serialises
# the steps with BEGIN IMMEDIATE).
@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database the bot migrates itself at start."""
    if request.param == "sqlite":
        yield db_url(tmp_path)
        return
    from tests.conftest import POSTGRES_URL, drop_postgres_database, fresh_postgres_database

    if not POSTGRES_URL:
        pytest.skip("TEST_POSTGRES_URL is not set")
    url, name = fresh_postgres_database()
    yield url
    drop_postgres_database(name)


def test_whole_protocol_with_a_fifth_of_the_calls_failing(
    bot: BotProcess, fake_api: KillSwitchAPI, tmp_path: Path
) -> None:
    # 403 is left out here: a team chat that refuses is retried only after 30 s (then 60 s...),
    # which would make this run minutes long; test_a_team_chat_refusing_for_a_moment covers it.
    fake_api.inject_faults(0.2, FAULTS_NO_403, seed=20261124, timeout_delay=1.5)
    # On top of the random share, one sure timeout on a critical message: it must show twice
    # (at least once is the promise) and be reported.
    fake_api.trap("late", send_to(GROUP_CAJA, CRITICAL["general"]))
    life = Lifeline(bot)
    bot.env["TELEGRAM_TIMEOUT_SECONDS"] = "1"  # a delayed answer is a timeout for the client
    life.begin()

    ProtocolRun(fake_api).run()

    state = wait_stored(db_url(tmp_path), settled(life.now))
    assert bot.process is not None and bot.process.poll() is None, "the bot died"
    view = seen(fake_api, state)
    assert sum(view.faults.values()) > 0
    assert view.missing_critical == []
    assert view.critical["general"][GROUP_CAJA] >= 2  # the late answer made a second copy
    assert state.incident_status == "closed"
    assert state.inbox["received"] == 0 and state.inbox["skipped"] == 0, state.inbox
    assert state.lost_reports(EXPECTED_REPORTS) == 0 and state.lost_votes(EXPECTED_VOTES) == 0
    assert unreported_duplicates(view, state) == []
    # The bot reports messages, not copies: a message delivered after two timeouts shows three
    # times and is one "may show twice" line, so distinct duplicated messages are compared.
    assert len(set(fake_api.duplicate_sends())) <= reported_duplicates(bot)


def test_a_send_cut_off_after_telegram_took_it_is_reported(
    bot: BotProcess, fake_api: KillSwitchAPI, tmp_path: Path
) -> None:
    # The connection closes after Telegram took the alert (a proxy, a network cut): the bot
    # cannot know, sends it again, and must report the second copy.
    fake_api.trap("cut", send_to(GROUP_CAJA, CRITICAL["alert"]))
    bot.start()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido No deja facturar"))
    run = ProtocolRun(fake_api)
    run.delivered(GROUP_ADMIN, CRITICAL["alert"])
    state = wait_stored(db_url(tmp_path), lambda s: s.pending_outbox == 0)
    view = seen(fake_api, state)
    assert view.critical["alert"][GROUP_CAJA] == 2  # at least once: the cut one, then again
    assert unreported_duplicates(view, state) == []


def test_a_team_chat_refusing_for_a_moment(
    bot: BotProcess, fake_api: KillSwitchAPI, tmp_path: Path
) -> None:
    bot.start()
    # Refused for a few seconds: long enough for the alert's first try, over long before the
    # bot tries that chat again (30 s later).
    fake_api.fail(
        "sendMessage",
        chat_id=GROUP_ADMIN,
        description="Forbidden: bot was kicked from the supergroup chat",
        until=time.monotonic() + 5.0,
    )
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido No deja facturar"))
    run = ProtocolRun(fake_api)
    run.delivered(GROUP_CAJA, CRITICAL["alert"])
    told = run.delivered(ADMIN_ID, "No puedo escribir en el grupo del equipo")
    assert str(GROUP_ADMIN) in told.text
    assert stored(db_url(tmp_path)).unreachable == [GROUP_ADMIN]
    # The refused alert is tried again (after 30 s) and then shows once, like everywhere else.
    run.delivered(GROUP_ADMIN, CRITICAL["alert"])
    state = wait_stored(db_url(tmp_path), lambda s: s.unreachable == [] and s.pending_outbox == 0)
    assert state.unreachable == []
    notices = [c for c in fake_api.sent(ADMIN_ID) if "No puedo escribir" in c.text]
    assert len(notices) == 1  # the admins are told once
    assert seen(fake_api, state).critical["alert"] == {GROUP_CAJA: 1, GROUP_ADMIN: 1}
    assert f"chat {GROUP_ADMIN} answers again" in bot.log()
    assert bot.process is not None and bot.process.poll() is None


REPORTERS = [user(2000 + n, f"Reporta{n}") for n in range(30)]


def voter(n: int) -> tuple[int, dict[str, Any], str]:
    """Voter n: their chat, who they are, their answer (half of each chat says it works)."""
    chat = TEAM[n % 2]
    choice = "f" if (n // 2) % 2 == 0 else "w"
    return chat, user(3000 + n, f"Vota{n}"), f"v:1:{choice}"


def burst(api: FakeBotAPI, votes: int, reports: list[dict[str, Any]] = REPORTERS) -> float:
    """Everyone at once: the reports across both chats, then the votes as soon as the card shows.
    Returns time.monotonic() of the first report."""
    first = time.monotonic()
    for n, who in enumerate(reports):
        api.push(command_update(TEAM[n % 2], who, f"/caido no anda ({n})"))
    run = ProtocolRun(api)
    cards = {chat: run.delivered(chat, CRITICAL["alert"]).result["message_id"] for chat in TEAM}
    for n in range(votes):
        chat, who, data = voter(n)
        api.push(press_update(chat, cards[chat], who, data))
    return first


def expected_burst(reports: int, votes: int) -> tuple[set[int], dict[int, str]]:
    expected_votes = {2000 + n: "fails" for n in range(reports)}
    for n in range(votes):
        _, who, data = voter(n)
        expected_votes[int(who["id"])] = "fails" if data.endswith("f") else "works"
    return {2000 + n for n in range(reports)}, expected_votes


def test_burst_then_kill_9_loses_no_report_and_no_vote(
    bot: BotProcess, fake_api: KillSwitchAPI, database_url: str
) -> None:
    life = Lifeline(bot)
    bot.env["DATABASE_URL"] = database_url
    life.begin()
    mark = fake_api.mark()
    burst(fake_api, 300)
    # Kill as soon as the votes are being handled: most of them are still in flight.
    fake_api.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark)
    life.kill_and_restart()

    reporters, votes = expected_burst(30, 300)
    state = wait_stored(database_url, lambda s: len(s.votes) == 330 and settled(life.now)(s))
    assert sorted(state.reports) == sorted(reporters)  # each report once, none lost
    assert state.votes == votes
    assert state.inbox["received"] == 0 and state.inbox["skipped"] == 0, state.inbox
    view = seen(fake_api, state)
    for chat in TEAM:
        copies = view.critical["alert"][chat]
        flagged = sum(
            n for (c, text), n in state.flagged.items() if c == chat and CRITICAL["alert"] in text
        )
        assert copies == 1 or copies - 1 <= flagged, (chat, copies, flagged)
    assert unreported_duplicates(view, state) == []
    assert bot.process is not None and bot.process.poll() is None
    # The card each chat sees shows every vote
    for chat in TEAM:
        card = fake_api.text_of(chat, state.cards[chat])
        tally = "Afectados: Caja 90, Administración 90 · Les funciona: Caja 75, Administración 75"
        if tally not in card:
            raise StaleCard(card)


# A handful of the ~47 state-changing calls of a clean run (their order varies a little from
# run to run): 1 the first alert card (Telegram got it), 6 the second "Falla general" (lost),
# 19 the access request repeated by a timer, 36 around the all-clear, 40 around the summary.
# tests/bench/chaos_kill.py runs every one of them.
KILL_POINTS = [1, 6, 19, 36, 40]


@pytest.mark.parametrize("k", KILL_POINTS)
def test_kill_9_at_a_bot_api_call_loses_nothing(
    bot: BotProcess, fake_api: KillSwitchAPI, tmp_path: Path, k: int
) -> None:
    life = Lifeline(bot)
    fake_api.arm(k, life.kill_and_restart)
    life.begin()

    ProtocolRun(fake_api).run()

    state = wait_stored(db_url(tmp_path), settled(life.now))
    assert life.restarts == 1, f"the run made {fake_api.state_changing} calls, fewer than {k}"
    assert state.reports == [101]  # not lost, not counted twice
    assert state.lost_votes(EXPECTED_VOTES) == 0
    assert EXPECTED_VALIDATION <= state.validation and EXPECTED_ACKS <= state.acks
    assert state.overdue_timers(life.now()) == []
    assert state.inbox["received"] == 0 and state.inbox["skipped"] == 0, state.inbox
    view = seen(fake_api, state)
    assert view.missing_critical == []
    assert unreported_duplicates(view, state) == []
    assert state.incident_status == "closed"
