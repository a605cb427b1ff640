"""The model boundary: one method, `complete`, with litellm behind it for any provider."""

from __future__ import annotations

import random
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import anyio
from msgspec import Struct

from airad.agents.operators import Message
from airad.offline.reply import PROVIDER as OFFLINE_PROVIDER
from airad.offline.reply import estimate_tokens, offline_completion
from airad.schemas.request import ModelSpec


class Completion(Struct, frozen=True):
    """A model's answer and what it cost; `tool_arguments` holds the first tool call's JSON, if any."""

    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    tool_arguments: str | None = None
    attempts: int = 1


class LLMError(RuntimeError):
    """The model could not be reached or kept failing after retries."""


class LLM(Protocol):
    """Anything that answers chat messages."""

    async def complete(
        self,
        model: ModelSpec,
        messages: Sequence[Message],
        tools: list[dict] | None = None,
        context: dict | None = None,
    ) -> Completion:
        """Answer `messages` with `model`, optionally offering `tools`. `context` is the operator's
        structured context the messages were rendered from (models that read it, like the offline
        coder, answer from it; others ignore it)."""
        ...

    async def context_window(self, model: ModelSpec) -> int | None:
        """How many tokens `model` takes in: the request's `context_tokens`, else what the client knows."""
        ...

    def count_tokens(self, model: ModelSpec, messages: Sequence[Message]) -> int:
        """How many tokens `messages` take for `model` (an estimate where the client has no tokenizer)."""
        ...


class RateLimiter:
    """At most `per_minute` calls a minute, evenly spaced; shared by every run of the daemon."""

    def __init__(self, per_minute: float):
        self.interval = 60.0 / per_minute
        self._next = 0.0
        self._lock = anyio.Lock()

    async def wait(self) -> None:
        """Sleep until this call's slot."""
        async with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        await anyio.sleep(slot - now)


def _retryable(litellm, exc: Exception) -> bool:
    retryable = (
        litellm.RateLimitError,
        litellm.Timeout,
        litellm.APIConnectionError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
    )
    return isinstance(exc, retryable)


def _retry_after(exc: Exception) -> float | None:
    # litellm swaps `exc.response` for a stand-in without headers; the server's are kept here.
    headers = (
        getattr(exc, "litellm_response_headers", None) or getattr(getattr(exc, "response", None), "headers", None) or {}
    )
    value = headers.get("retry-after") if hasattr(headers, "get") else None
    try:
        return min(float(value), 60.0) if value is not None else None
    except ValueError:
        return None


class LiteLLMClient:
    """LLM through `litellm.acompletion`: per-model concurrency and rate limits, retries with backoff
    on 429 / 5xx / timeouts honouring Retry-After, API keys looked up in `env` by name at call time.

    Error messages are redacted before they leave: the call's key, and the value of every variable
    of `env` whose name says it holds a secret (litellm also reads keys such as OPENAI_API_KEY from
    the process environment by itself, and servers quote them back in errors).

    `airad-offline/...` models are answered by the offline coder directly; litellm is imported (and the
    offline coder registered as its `airad-offline` provider) on the first call to any other model.
    """

    def __init__(
        self,
        *,
        concurrency: int = 16,
        requests_per_minute: float | None = None,
        retries: int = 4,
        backoff_s: float = 1.0,
        env: Mapping[str, str] | None = None,
        seed: int = 0,
    ):
        self._litellm_module: Any = None
        self._importing = anyio.Lock()
        self.concurrency = concurrency
        self.requests_per_minute = requests_per_minute
        self.retries = retries
        self.backoff_s = backoff_s
        self.env = env or {}
        self._secrets = secret_values(self.env)
        self._limiters: dict[str, tuple[anyio.CapacityLimiter, RateLimiter | None]] = {}
        self._jitter = random.Random(seed)

    @property
    def _litellm(self):
        """litellm, once `_import_litellm` has run."""
        if self._litellm_module is None:
            raise RuntimeError("litellm is imported by the first call to a model that needs it")
        return self._litellm_module

    async def _import_litellm(self) -> None:
        """Import litellm on the first call to a model that needs it (4-6 s of CPU), in a worker thread so
        the daemon's other runs go on meanwhile; a daemon that only uses the offline coder never pays for it."""
        async with self._importing:
            if self._litellm_module is None:
                self._litellm_module = await anyio.to_thread.run_sync(_load_litellm)

    async def context_window(self, model: ModelSpec) -> int | None:
        """The request's `context_tokens`, else litellm's model info (input tokens); None when unknown."""
        if model.context_tokens or model.name.startswith(f"{OFFLINE_PROVIDER}/"):
            return model.context_tokens
        await self._import_litellm()
        try:
            info = self._litellm.get_model_info(model.name)
        except Exception:
            return None
        window = info.get("max_input_tokens") or info.get("max_tokens")
        return int(window) if window else None

    def count_tokens(self, model: ModelSpec, messages: Sequence[Message]) -> int:
        """litellm's count for the model once litellm is loaded; else four characters a token."""
        payload = [{"role": m.role, "content": m.content} for m in messages]
        if self._litellm_module is None or model.name.startswith(f"{OFFLINE_PROVIDER}/"):
            return estimate_tokens("".join(m.content for m in messages))
        try:
            return int(self._litellm.token_counter(model=model.name, messages=payload))
        except Exception:
            return estimate_tokens("".join(m.content for m in messages))

    def _limits(self, model: str) -> tuple[anyio.CapacityLimiter, RateLimiter | None]:
        if model not in self._limiters:
            rate = RateLimiter(self.requests_per_minute) if self.requests_per_minute else None
            self._limiters[model] = (anyio.CapacityLimiter(self.concurrency), rate)
        return self._limiters[model]

    def _call_options(self, model: ModelSpec, tools: list[dict] | None) -> dict:
        options: dict = {
            "model": model.name,
            "temperature": model.temperature,
            "max_tokens": model.max_tokens,
            "timeout": model.timeout_s,
            "num_retries": 0,
            "max_retries": 0,
        }
        if model.api_base:
            options["api_base"] = model.api_base
        if model.api_key_env:
            key = self.env.get(model.api_key_env)
            if not key:
                raise LLMError(f"the API key variable {model.api_key_env} is not set in the daemon's environment")
            options["api_key"] = key
        if tools:
            options["tools"] = tools
        return options

    async def complete(
        self,
        model: ModelSpec,
        messages: Sequence[Message],
        tools: list[dict] | None = None,
        context: dict | None = None,
    ) -> Completion:
        """Call the model, retrying transient failures with exponential backoff; the offline coder gets
        `context` in litellm's metadata (never sent to a provider)."""
        options = self._call_options(model, tools)
        payload = [{"role": m.role, "content": m.content} for m in messages]
        if model.name.startswith(f"{OFFLINE_PROVIDER}/"):
            return _offline(model, payload, tools, context)
        await self._import_litellm()
        concurrency, rate = self._limits(model.name)
        async with concurrency:
            for attempt in range(1, self.retries + 2):
                if rate is not None:
                    await rate.wait()
                started = time.monotonic()
                try:
                    response = await self._litellm.acompletion(messages=payload, **options)
                    break
                except Exception as exc:
                    if attempt > self.retries or not _retryable(self._litellm, exc):
                        raise LLMError(
                            f"{type(exc).__name__}: {_redact(str(exc), options, self._secrets)[:500]}"
                        ) from None
                    delay = self.backoff_s * 2 ** (attempt - 1) * (1 + self._jitter.random())
                    await anyio.sleep(_retry_after(exc) or delay)
        return self._completion(model, response, time.monotonic() - started, attempt)

    def _completion(self, model: ModelSpec, response, seconds: float, attempts: int) -> Completion:
        try:
            message = response.choices[0].message
        except (AttributeError, IndexError) as exc:
            raise LLMError(f"the model's response has no message: {exc}") from None
        tool_calls = getattr(message, "tool_calls", None) or []
        arguments = tool_calls[0].function.arguments if tool_calls else None
        usage = getattr(response, "usage", None)
        try:
            cost = float(self._litellm.completion_cost(completion_response=response) or 0.0)
        except Exception:
            cost = 0.0
        return Completion(
            text=message.content or "",
            model=model.name,
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            cost_usd=cost,
            seconds=seconds,
            tool_arguments=arguments,
            attempts=attempts,
        )


def _load_litellm():
    """litellm, quiet, with the offline coder registered as its `airad-offline` provider."""
    import litellm

    from airad.offline.provider import register

    register()
    litellm.suppress_debug_info = True
    warnings.filterwarnings("ignore", message="Pydantic serializer warnings", category=UserWarning)
    return litellm


def _offline(model: ModelSpec, payload: list[dict], tools: list[dict] | None, context: dict | None) -> Completion:
    """The offline coder's answer, called directly: what its litellm provider would return, without litellm."""
    started = time.monotonic()
    reply = offline_completion(payload, tools, "auto" if tools else None, context)
    return Completion(
        text=reply.text or "",
        model=model.name,
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        seconds=time.monotonic() - started,
        tool_arguments=reply.tool_arguments,
    )


SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)


def secret_values(env: Mapping[str, str]) -> tuple[str, ...]:
    """The values (8 characters or more) of the variables whose names say they hold a secret, longest first."""
    return tuple(sorted({v for k, v in env.items() if SECRET_NAME.search(k) and len(v) >= 8}, key=len, reverse=True))


def _redact(text: str, options: dict, secrets: tuple[str, ...] = ()) -> str:
    key = options.get("api_key")
    for secret in (key, *secrets) if key else secrets:
        text = text.replace(secret, "***")
    return text
