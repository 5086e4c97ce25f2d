"""Reproduce the closed-connection errors of the 32-client load run (bench/results/
load_bench.md: 3 of 3,625 requests, ReadError, no response, all at one instant).

Two experiments against a trivial ASGI app (no podsearch code: the effect is uvicorn's and
httpx's), each at a short server keep-alive (``--keep-alive``, 1 s, scaled down from uvicorn's
default 5 s) and a long one (``--long`` x that):

- idle: each client waits a random [0.8, 1.2] x keep-alive between requests, so connections
  are often closed by the server around the time they are reused;
- stalls: busy clients (32, back to back) on a server in another process; ``--stalls`` times,
  the server is stopped (SIGSTOP) and the client's event loop blocked for 1.5 x keep-alive,
  then both go on at the same instant, as when the whole machine stalls under CPU load.

    PYTHONPATH=src python bench/keepalive_race.py [--skip-idle] [--stalls 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import threading
import time
from typing import Any

import httpx
import uvicorn


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b"ok"})


def serve(keep_alive: float) -> tuple[uvicorn.Server, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="error", timeout_keep_alive=keep_alive
    )  # type: ignore[arg-type]
    srv = uvicorn.Server(config)
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.01)
    return srv, port


async def run(port: int, idle: float, requests: int, clients: int) -> dict[str, Any]:
    errors: dict[str, int] = {}
    ok = 0
    rng = random.Random(0)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as c:

        async def one(n: int) -> None:
            nonlocal ok
            for _ in range(n):
                await asyncio.sleep(idle * rng.uniform(0.8, 1.2))
                try:
                    (await c.get("/")).raise_for_status()
                    ok += 1
                except httpx.HTTPError as e:
                    errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1

        await asyncio.gather(*(one(requests // clients) for _ in range(clients)))
    return {"ok": ok, "errors": errors}


SERVER = """
import sys, uvicorn
from keepalive_race import app
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error",
            timeout_keep_alive=float(sys.argv[2]))
"""


async def stall_run(keep_alive: float, clients: int, stalls: int, stall_s: float) -> dict[str, Any]:
    """Busy clients on a server in another process; ``stalls`` times, stop the server
    (SIGSTOP) and block the client's event loop for ``stall_s`` seconds, then let both
    go on at once, as when the whole machine stalls (CPU starvation)."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    here = str(Path(__file__).resolve().parent)
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(keep_alive)],
                            env={**os.environ, "PYTHONPATH": here})  # fmt: skip
    errors: dict[str, int] = {}
    ok = 0
    done = False
    try:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as c:
            for _ in range(200):
                try:
                    await c.get("/")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)

            async def one() -> None:
                nonlocal ok
                while not done:
                    try:
                        (await c.get("/")).raise_for_status()
                        ok += 1
                    except httpx.HTTPError as e:
                        errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                    await asyncio.sleep(0.001)

            tasks = [asyncio.create_task(one()) for _ in range(clients)]
            for _ in range(stalls):
                await asyncio.sleep(0.3)
                proc.send_signal(signal.SIGSTOP)
                time.sleep(stall_s)  # blocks the client's loop too
                proc.send_signal(signal.SIGCONT)
            await asyncio.sleep(0.3)
            done = True
            await asyncio.gather(*tasks)
    finally:
        proc.kill()
        proc.wait()
    return {"ok": ok, "errors": errors}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--keep-alive", type=float, default=1.0, help="the short keep-alive, s")
    p.add_argument("--long", type=float, default=20.0, help="the long one, x --keep-alive")
    p.add_argument("--stalls", type=int, default=10)
    p.add_argument("--skip-idle", action="store_true", help="only the stall experiment")
    a = p.parse_args()
    pair = (a.keep_alive, a.keep_alive * a.long)
    for server_keep_alive in () if a.skip_idle else pair:
        srv, port = serve(server_keep_alive)
        t0 = time.perf_counter()
        out = asyncio.run(run(port, a.keep_alive, a.requests, a.clients))
        print(f"idle: server keep-alive {server_keep_alive:g} s, client idle ~{a.keep_alive:g} s: "
              f"{out} ({time.perf_counter() - t0:.1f} s)")  # fmt: skip
        srv.should_exit = True
    for server_keep_alive in (pair[1], pair[0], pair[1]):  # long, short, long
        out = asyncio.run(stall_run(server_keep_alive, a.clients, a.stalls, 1.5 * a.keep_alive))
        print(f"stalls: {a.stalls} x {1.5 * a.keep_alive:g} s, server keep-alive "
              f"{server_keep_alive:g} s: {out}")  # fmt: skip


if __name__ == "__main__":
    main()
