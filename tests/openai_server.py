"""A scripted OpenAI-compatible chat-completions server for testing the model layer over real HTTP.

`ScriptedServer` is an aiohttp app bound to 127.0.0.1 on a free port, started and stopped inside
the test's event loop. Each request to `POST /v1/chat/completions` (or `/chat/completions`)
consumes the next behaviour from `script`; when the script is empty, `default` answers. Behaviours
are built by the module-level helpers: `ok`, `tool_call`, `status`, `hang`, `garbage`,
`empty_choices`, each optionally after a `delay`.

Every request is recorded (`Recorded`: headers, JSON body, arrival time), and the server tracks
the largest number of requests in flight at once (`max_in_flight`), so tests can assert on what
the client sent and how it paced itself. A model check (a request for at most `CHECK_MAX_TOKENS`
tokens, as `LLM.check_model` sends before a run) never consumes the script: it gets `check` when set,
else `default`. `abandoned` counts requests whose client went away before
the answer (their handler was cancelled: the server stopped working on them).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web


CHECK_MAX_TOKENS = 8


@dataclass(frozen=True)
class Behaviour:
    """How the server answers one request."""

    kind: str  # ok | tool | status | hang | garbage | empty
    text: str = ""
    tool_name: str = ""
    arguments: str = ""
    code: int = 200
    retry_after: float | None = None
    echo_auth: bool = False  # put the request's Authorization header in the error message
    seconds: float = 0.0  # hang length, or delay before answering
    finish: str = "stop"  # the finish_reason of an "ok" answer ("length": cut off at max_tokens)


def ok(text: str = "hello", *, delay: float = 0.0, finish: str = "stop") -> Behaviour:
    """A normal assistant answer (`finish="length"`: one cut off at max_tokens)."""
    return Behaviour("ok", text=text, seconds=delay, finish=finish)


def tool_call(name: str, arguments_json: str, *, delay: float = 0.0) -> Behaviour:
    """An answer that calls tool `name` with `arguments_json`."""
    return Behaviour("tool", tool_name=name, arguments=arguments_json, seconds=delay)


def status(code: int, *, retry_after: float | None = None, echo_auth: bool = False) -> Behaviour:
    """An HTTP error with an OpenAI-shaped error body, optionally with a Retry-After header;
    `echo_auth` quotes the request's Authorization header in the message, as careless servers do."""
    return Behaviour("status", code=code, retry_after=retry_after, echo_auth=echo_auth)


def hang(seconds: float) -> Behaviour:
    """Sleep `seconds` before answering normally (to trip the client's timeout)."""
    return Behaviour("hang", text="too late", seconds=seconds)


def garbage() -> Behaviour:
    """HTTP 200 with a body that is not JSON."""
    return Behaviour("garbage")


def empty_choices() -> Behaviour:
    """A well-formed completion whose `choices` list is empty."""
    return Behaviour("empty")


@dataclass
class Recorded:
    """One request the server received."""

    path: str
    headers: dict[str, str]
    body: dict | None
    arrived: float


async def serve_on_loopback(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve `app` on 127.0.0.1 at a free port: its runner (to clean up) and its URL. A client that
    gives up (a timeout) cancels its handler, and shutdown never waits long on a hanging one."""
    runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@dataclass
class ScriptedServer:
    """The server; `url` is `http://127.0.0.1:<port>` once started."""

    default: Behaviour = field(default_factory=ok)
    script: deque[Behaviour] = field(default_factory=deque)
    check: Behaviour | None = None
    requests: list[Recorded] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    abandoned: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None

    def queue(self, *behaviours: Behaviour) -> None:
        """Append behaviours, consumed one per request."""
        self.script.extend(behaviours)

    async def start(self) -> str:
        app = web.Application()
        for path in ("/v1/chat/completions", "/chat/completions"):
            app.router.add_post(path, self._handle)
        self._runner, self.url = await serve_on_loopback(app)
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            self.requests.append(Recorded(request.path, dict(request.headers), body, arrived))
            behaviour = self._behaviour(body or {})
            if behaviour.seconds:
                await asyncio.sleep(behaviour.seconds)
            return self._respond(behaviour, body or {}, request.headers.get("Authorization", ""))
        except asyncio.CancelledError:
            self.abandoned += 1
            raise
        finally:
            self.in_flight -= 1

    def _behaviour(self, body: dict) -> Behaviour:
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int) and max_tokens <= CHECK_MAX_TOKENS:
            return self.check or self.default
        return self.script.popleft() if self.script else self.default

    def _respond(self, b: Behaviour, body: dict, auth: str) -> web.Response:
        if b.kind == "status":
            headers = {"Retry-After": str(b.retry_after)} if b.retry_after is not None else {}
            text = f"scripted status {b.code}" + (f" for {auth}" if b.echo_auth else "")
            error = {"error": {"message": text, "type": "server_error", "param": None, "code": str(b.code)}}
            return web.json_response(error, status=b.code, headers=headers)
        if b.kind == "garbage":
            return web.Response(status=200, text="<html>definitely not json", content_type="application/json")
        message: dict = {"role": "assistant", "content": b.text, "tool_calls": None}
        finish = b.finish
        if b.kind == "tool":
            message["content"] = None
            message["tool_calls"] = [
                {"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function", "function": {"name": b.tool_name, "arguments": b.arguments}}
            ]
            finish = "tool_calls"
        prompt_tokens, completion_tokens = 11, 7
        choices = [] if b.kind == "empty" else [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}]
        return web.json_response({
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "test-model"),
            "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
        })


@pytest.fixture
async def openai_server() -> AsyncIterator[ScriptedServer]:
    """A started `ScriptedServer`, stopped after the test."""
    server = ScriptedServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
