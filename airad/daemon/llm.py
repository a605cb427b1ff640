"""The model boundary: one method, `complete`, with litellm behind it for any provider."""

from __future__ import annotations

import random
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import anyio
from msgspec import Struct, structs

from airad.agents.operators import Message
from airad.daemon.llm_faults import LLMError, fault_kind, redact, retried, retry_after, secret_values
from airad.offline.reply import PROVIDER as OFFLINE_PROVIDER
from airad.offline.reply import estimate_tokens, offline_completion
from airad.schemas.request import ModelSpec

__all__ = ["LLM", "Completion", "LLMError", "LiteLLMClient", "RateLimiter"]

CHECK_MESSAGES = (Message("user", "Reply with the word OK."),)


class Completion(Struct, frozen=True):
    """A model's answer and what it cost; `tool_arguments` holds the first tool call's JSON, if any.
    `finish_reason` is the provider's ("stop", "length" when cut off at max_tokens, "tool_calls"; ""
    when not given); `seconds` is the whole call, retries and their waits included; `attempts` counts
    the tries it took."""

    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    tool_arguments: str | None = None
    attempts: int = 1
    finish_reason: str = ""


class LLM(Protocol):
    """Anything that answers chat messages."""

    async def complete(
        self,
        model: ModelSpec,
        messages: Sequence[Message],
        tools: list[dict] | None = None,
        context: dict | None = None,
    ) -> Completion:
        """Answer `messages` with `model`. With `tools`, the model is asked to call the first one (forced
        where the provider takes `tool_choice`). `context` is the operator's structured context the
        messages were rendered from (models that read it, like the offline coder, answer from it;
        others ignore it). Failures raise `LLMError` with its kind."""
        ...

    async def check_model(self, model: ModelSpec) -> None:
        """A cheap call that raises `LLMError` when `model` cannot answer at all (bad key, no server,
        unknown model); models that need no check (in-process ones) return at once."""
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


class LiteLLMClient:
    """LLM through `litellm.acompletion`: concurrency and rate limits per server, retries with backoff
    on passing faults honouring Retry-After (`ModelSpec.retries`, `retry_timeouts`; never on a refused
    key or an unknown model), API keys looked up in `env` by name at call time. A call that times out
    closes its connection, which servers such as llama.cpp's and vLLM's take as a cancel.

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

    def _limits(self, model: ModelSpec) -> tuple[anyio.CapacityLimiter, RateLimiter | None]:
        """The limits of the model's server: its `api_base` (shared by every alias served there), else the model."""
        server = model.api_base or model.name
        if server not in self._limiters:
            rate = RateLimiter(self.requests_per_minute) if self.requests_per_minute else None
            self._limiters[server] = (anyio.CapacityLimiter(model.concurrency or self.concurrency), rate)
        return self._limiters[server]

    def _retries(self, model: ModelSpec) -> tuple[int, bool]:
        """How often a call is tried again, and whether after a timeout: the model's settings, else the
        defaults (the daemon's retries and yes for a hosted API; 1 and no for a local server)."""
        retries = model.retries if model.retries is not None else min(1, self.retries) if model.local else self.retries
        timeouts = model.retry_timeouts if model.retry_timeouts is not None else not model.local
        return retries, timeouts

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
                message = f"the API key variable {model.api_key_env} is not set in the daemon's environment"
                raise LLMError(message, "auth")
            options["api_key"] = key
        if tools:
            options["tools"] = tools
            if self._takes_tool_choice(model):
                options["tool_choice"] = {"type": "function", "function": {"name": tools[0]["function"]["name"]}}
        return options

    def _takes_tool_choice(self, model: ModelSpec) -> bool:
        """Whether litellm sends `tool_choice` to this model's provider (OpenAI-compatible servers do)."""
        try:
            return "tool_choice" in (self._litellm.get_supported_openai_params(model=model.name) or ())
        except Exception:
            return False

    async def complete(
        self,
        model: ModelSpec,
        messages: Sequence[Message],
        tools: list[dict] | None = None,
        context: dict | None = None,
    ) -> Completion:
        """Call the model, retrying passing faults with exponential backoff; the offline coder is
        answered in-process from `context`."""
        payload = [{"role": m.role, "content": m.content} for m in messages]
        if model.name.startswith(f"{OFFLINE_PROVIDER}/"):
            self._call_options(model, tools)  # the same checks (an unset key variable) as any model
            return _offline(model, payload, tools, context)
        await self._import_litellm()
        options = self._call_options(model, tools)
        concurrency, rate = self._limits(model)
        retries, retry_timeouts = self._retries(model)
        started = time.monotonic()
        async with concurrency:
            for attempt in range(1, retries + 2):
                if rate is not None:
                    await rate.wait()
                try:
                    response = await self._litellm.acompletion(messages=payload, **options)
                    break
                except Exception as exc:
                    kind = fault_kind(self._litellm, exc)
                    if attempt > retries or not retried(kind, retry_timeouts):
                        tries = f" (after {attempt} tries)" if attempt > 1 else ""
                        text = redact(str(exc), options.get("api_key"), self._secrets)[:500]
                        raise LLMError(f"{type(exc).__name__}{tries}: {text}", kind) from None
                    delay = self.backoff_s * 2 ** (attempt - 1) * (1 + self._jitter.random())
                    await anyio.sleep(retry_after(exc) or delay)
        return self._completion(model, response, time.monotonic() - started, attempt)

    async def check_model(self, model: ModelSpec) -> None:
        """One call for a single token, with the model's retries: raises `LLMError` (its kind says
        whether the key, the server or the model is at fault); the offline coder needs no check."""
        self._call_options(model, None)  # an unset key variable fails here, for any model
        if model.name.startswith(f"{OFFLINE_PROVIDER}/"):
            return
        probe = structs.replace(model, max_tokens=1, temperature=0.0, timeout_s=min(model.timeout_s, 60.0))
        try:
            await self.complete(probe, CHECK_MESSAGES)
        except LLMError as exc:
            if not exc.broken:
                return  # the server is there and knows the model; the probe met a passing fault or was refused
            raise

    def _completion(self, model: ModelSpec, response, seconds: float, attempts: int) -> Completion:
        try:
            choice = response.choices[0]
            message = choice.message
        except (AttributeError, IndexError) as exc:
            raise LLMError(f"the model's response has no message: {exc}", "bad_response") from None
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
            finish_reason=str(getattr(choice, "finish_reason", None) or ""),
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
        finish_reason="tool_calls" if reply.tool_arguments else "stop",
    )
