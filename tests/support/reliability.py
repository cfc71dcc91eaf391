"""The reliability scenarios through the real process (a bad day at Telegram, a burst, kill -9
at any call): the fake that can kill the bot at a chosen call, a whole protocol run, and what the
database and the chats hold afterwards. Used by tests/e2e/test_reliability.py and by the
benchmarks bench_faults.py, bench_burst.py and chaos_kill.py."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

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
from tests.support.bot_process import FULL_PROTOCOL as PROTOCOL
from tests.support.bot_process import (
    GROUP_ADMIN,
    GROUP_CAJA,
    TOKEN,
    BotProcess,
    bot_env,
)
from tests.support.fakebotapi import (
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


class StaleCard(AssertionError):
    """The card a chat shows does not match what is stored."""


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
