"""An OpenAI-compatible server that answers with a real model's recorded answers (a cassette).

tests/cassettes/smollm2.json holds real answers of SmolLM2-135M-Instruct served by llama.cpp
(recorded by `python -m tests.cassettes.record`), each with a label, the shape of the request that
got it and the server's JSON body verbatim. `CassetteServer` serves them again on loopback, in the
style of tests/openai_server.py's `ScriptedServer`:

- `queue("draft-prose", "draft-truncated", ...)`: each `POST /v1/chat/completions` (or
  `/chat/completions`) gets the next queued entry's body;
- once the queue is empty, the answer follows the request's shape: a request with `tools` gets the
  next `analyze-*` entry recorded with tools, forced (with `tool_choice`) or not as the request is;
  any other request gets the next ordinary entry (plain answers recorded at temperature 0.7), of the
  request's operator when its prompt names one (`# Your job: debug`), cycling;
- a request with `max_tokens` of 8 or less is a model check, not an operator's prompt: it gets the
  `probe` entry and leaves the queue alone;
- `GET /v1/models` lists the cassette's model alias.

Only `id`, `created` and `model` of a recorded body are replaced (by a fresh id, the time now and the
model the request named); everything else (message, tool calls, finish_reason, usage) is the model's.
Every request is recorded (`requests`, as `tests.openai_server.Recorded`), with the label it was
answered with (`served`).
"""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from aiohttp import web

from tests.openai_server import CHECK_MAX_TOKENS as PROBE_MAX_TOKENS
from tests.openai_server import Recorded, serve_on_loopback

CASSETTE = Path(__file__).resolve().parent / "cassettes" / "smollm2.json"
_OPERATOR = re.compile(r"^# Your job: (\w+)", re.MULTILINE)


@cache
def _load(path: Path) -> str:
    return path.read_text()


def load_cassette(path: Path = CASSETTE) -> dict:
    """The cassette: `meta` (model file, server version, threads, context, date) and `entries`, each
    with `label`, `note`, `ordinary`, `shape` (operator, max_tokens, tools, tool_choice), `request`
    (the prompt file, temperature, seed) and `response` (the server's body as it sent it). A fresh copy."""
    return json.loads(_load(path))


def entry(label: str, path: Path = CASSETTE) -> dict:
    """One entry of the cassette by label."""
    for found in load_cassette(path)["entries"]:
        if found["label"] == label:
            return found
    raise KeyError(label)


def answer_text(found: dict) -> str:
    """The text of an entry's answer ("" for a tool call without text)."""
    choices = found["response"].get("choices") or [{}]
    return (choices[0].get("message") or {}).get("content") or ""


def _operator_of(body: dict) -> str | None:
    for message in reversed(body.get("messages") or []):
        content = message.get("content")
        if isinstance(content, str) and (match := _OPERATOR.search(content)):
            return match.group(1)
    return None


@dataclass
class CassetteServer:
    """The server; `url` is `http://127.0.0.1:<port>` once started."""

    cassette: dict = field(default_factory=load_cassette)
    script: deque[str] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    served: list[str] = field(default_factory=list)
    url: str = ""
    _cursors: dict[str, int] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    @property
    def entries(self) -> dict[str, dict]:
        return {e["label"]: e for e in self.cassette["entries"]}

    @property
    def alias(self) -> str:
        return self.cassette["meta"].get("alias", "smollm2")

    def queue(self, *labels: str) -> None:
        """Append entries by label, served one per request in order."""
        unknown = [label for label in labels if label not in self.entries]
        if unknown:
            raise KeyError(f"not in the cassette: {unknown}; it has {sorted(self.entries)}")
        self.script.extend(labels)

    async def start(self) -> str:
        app = web.Application()
        for path in ("/v1/chat/completions", "/chat/completions"):
            app.router.add_post(path, self._handle)
        for path in ("/v1/models", "/models"):
            app.router.add_get(path, self._models)
        self._runner, self.url = await serve_on_loopback(app)
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def pick(self, body: dict) -> str:
        """The label that answers `body` (consuming the queue where it applies)."""
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        if isinstance(max_tokens, int) and max_tokens <= PROBE_MAX_TOKENS and "probe" in self.entries:
            return "probe"
        if self.script:
            return self.script.popleft()
        entries = self.cassette["entries"]
        if body.get("tools"):
            forced = body.get("tool_choice") not in (None, "auto", "none")
            group = f"tools-forced={forced}"
            pool = [
                e["label"] for e in entries if e["shape"]["tools"] and (e["shape"]["tool_choice"] is not None) == forced
            ]
        else:
            operator = _operator_of(body)
            ordinary = [e for e in entries if e.get("ordinary")]
            pool = [e["label"] for e in ordinary if e["shape"]["operator"] == operator] or [
                e["label"] for e in ordinary
            ]
            group = f"ordinary-{operator if any(e['shape']['operator'] == operator for e in ordinary) else '*'}"
        if not pool:
            raise LookupError(f"the cassette has no entry for a request of this shape ({group})")
        turn = self._cursors.get(group, 0)
        self._cursors[group] = turn + 1
        return pool[turn % len(pool)]

    def response_for(self, label: str, body: dict) -> dict:
        """The recorded body of `label`, with a fresh id, the time now and the requested model."""
        response = copy.deepcopy(self.entries[label]["response"])
        response["id"] = f"chatcmpl-{uuid.uuid4().hex}"
        response["created"] = int(time.time())
        response["model"] = body.get("model", response.get("model"))
        return response

    async def _models(self, request: web.Request) -> web.Response:
        model = {"id": self.alias, "object": "model", "owned_by": "me", "permissions": []}
        return web.json_response({"object": "list", "data": [model]})

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        self.requests.append(Recorded(request.path, dict(request.headers), body or None, arrived))
        try:
            label = self.pick(body)
        except LookupError as exc:
            error = {"error": {"message": str(exc), "type": "server_error", "param": None, "code": "500"}}
            return web.json_response(error, status=500)
        self.served.append(label)
        return web.json_response(self.response_for(label, body))


@pytest.fixture
async def cassette_server() -> AsyncIterator[CassetteServer]:
    """A started `CassetteServer` over tests/cassettes/smollm2.json, stopped after the test."""
    server = CassetteServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
