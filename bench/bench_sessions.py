"""Sessions row: what an authenticated request costs with a browser session beside an API key.

The web service calls the API in a signed-in user's name with `Authorization: Bearer
<session token>`; the dandi client sends `token <key>`. Both are one indexed lookup by
SHA-256 in the request's own session, so the target is the key's cost within 10 %.
`GET /api/users/me/` is timed (sequential requests over one keep-alive connection, p50),
the two credentials in alternating rounds so that drift of the machine hits both alike.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import asyncpg

from bench.bench_foundation import process, service_env
from bench.table import Row
from dandelion_common.auth import hash_api_key
from dandelion_common.browser_sessions import token_digest
from dandelion_common.db.migrate import upgrade
from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.devstack.process import free_port

KEY = "5" * 40
SESSION = "bench-session-token-" + "s" * 23
ROUNDS = 5
REQUESTS = 200
WARM_UP = 20
TOLERANCE = 1.10

SEED_SQL = [
    "INSERT INTO users (username, status) VALUES ('bench-sessions', 'APPROVED')",
    f"""INSERT INTO api_tokens (user_id, key_hash)
        SELECT id, '{hash_api_key(KEY)}' FROM users WHERE username = 'bench-sessions'""",
    f"""INSERT INTO browser_sessions (user_id, token_digest, expires_at)
        SELECT id, '{token_digest(SESSION)}', now() + interval '30 days'
        FROM users WHERE username = 'bench-sessions'""",
]


async def seed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            for statement in SEED_SQL:
                await conn.execute(statement)
    finally:
        await conn.close()


async def timed(port: int, authorization: str) -> list[float]:
    """Milliseconds of REQUESTS sequential `GET /api/users/me/` over one connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"GET /api/users/me/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\n\r\n"
    ).encode()
    times = []
    try:
        for n in range(REQUESTS + WARM_UP):
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head[:200]
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            if n >= WARM_UP:
                times.append((time.perf_counter() - start) * 1000)
    finally:
        writer.close()
    return times


async def run(urls: ServerUrls) -> list[Row]:
    await asyncio.to_thread(upgrade, urls.postgres)
    await seed(urls.postgres.replace("postgresql+asyncpg", "postgresql"))
    port = free_port()
    env = service_env(urls) | {"DANDELION_API__PORT": str(port), "DANDELION_API__WORKERS": "1"}
    by_key: list[float] = []
    by_session: list[float] = []
    argv = [sys.executable, "-m", "dandelion_common.cli", "api"]
    with process(argv, env, f"http://127.0.0.1:{port}/healthz"):
        for _ in range(ROUNDS):
            by_key += await timed(port, f"token {KEY}")
            by_session += await timed(port, f"Bearer {SESSION}")
    key_p50, session_p50 = statistics.median(by_key), statistics.median(by_session)
    return [
        Row(
            f"GET /api/users/me/ by session p50 (by API key {key_p50:.2f} ms)",
            session_p50,
            key_p50 * TOLERANCE,
            "API key + 10 %",
            "ms",
            higher_is_better=False,
        )
    ]
