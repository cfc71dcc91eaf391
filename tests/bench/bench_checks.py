"""What the checks cost: N checks (TCP and HTTP to servers on 127.0.0.1, half of them failing)
probed every S seconds for M minutes by the bot's Monitor on a real SQLite database; prints the
CPU share and the memory they add. Prints figures; asserts nothing.

    .venv/bin/python -m tests.bench.bench_checks              # 10 checks, every 60 s, 10 min
    .venv/bin/python -m tests.bench.bench_checks --minutes 2  # a quicker look
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

from bot.core.clock import Clock
from bot.core.config import Config, Protocol, load_protocol, load_settings
from bot.ops.monitor import Monitor
from bot.runtime import Runtime
from bot.storage.db import make_engine, make_session_factory, upgrade_database


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def serve_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nFLEXUS ok")
    await writer.drain()
    writer.close()


async def measure(url: str, checks: int, every: float, minutes: float) -> None:
    tcp = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    web = await asyncio.start_server(serve_http, "127.0.0.1", 0)
    tcp_port, web_port = tcp.sockets[0].getsockname()[1], web.sockets[0].getsockname()[1]
    entries = []
    for n in range(checks):
        failing = n % 2 == 1  # half of them refused: the failing path costs too
        port = 1 if failing else (tcp_port if n % 4 == 0 else web_port)
        if n % 4 in (0, 1):
            entries.append({"name": f"tcp{n}", "kind": "tcp", "target": f"127.0.0.1:{port}"})
        else:
            entries.append(
                {"name": f"http{n}", "kind": "http", "target": f"http://127.0.0.1:{port}/"}
            )
    for entry in entries:
        entry["every_seconds"] = every
    protocol = Protocol.model_validate(
        {**load_protocol().model_dump(by_alias=True), "check": entries}
    )
    engine = make_engine(url)
    runtime = Runtime(
        config=Config(settings=load_settings(_env_file=None, database_url=url), protocol=protocol),
        engine=engine,
        sessions=make_session_factory(engine),
        clock=Clock(),
    )
    # What the bot has anyway: a database connection, the check tables read once, httpx loaded.
    warm = Monitor(runtime)
    await warm._load()
    await warm.probe(protocol.check[0])
    await asyncio.sleep(0.5)
    before_rss = rss_mb()
    before_cpu = time.process_time()
    started = time.monotonic()
    monitor = Monitor(runtime)
    await monitor.start()
    await asyncio.sleep(minutes * 60)
    await monitor.stop()
    cpu = time.process_time() - before_cpu
    wall = time.monotonic() - started
    after_rss = rss_mb()
    tcp.close()
    web.close()
    await engine.dispose()
    print(f"{checks} checks every {every:g} s for {minutes:g} min ({wall:.0f} s)")
    print(f"CPU: {cpu:.2f} s = {100 * cpu / wall:.2f} % of one CPU (servers included)")
    print(f"memory: {after_rss - before_rss:+.1f} MB (RSS {before_rss:.1f} → {after_rss:.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=10)
    parser.add_argument("--every", type=float, default=60.0)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    database = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    upgrade_database(database)  # before the event loop: the migrations run their own
    asyncio.run(measure(database, args.checks, args.every, args.minutes))


if __name__ == "__main__":
    main()
