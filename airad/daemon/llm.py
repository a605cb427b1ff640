"""The model boundary: one method, `complete`, with litellm behind it for any provider."""

from __future__ import annotations

import random
import time
import warnings
from collections.abc import Sequence
from typing import Protocol

import anyio
from msgspec import Struct

from airad.agents.operators import Message
from airad.schemas.request import ModelSpec


class Completion(Struct, frozen=True):
    """A model's answer and what it cost."""

    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0


class LLMError(RuntimeError):
    """The model could not be reached or kept failing after retries."""


class LLM(Protocol):
    """Anything that answers chat messages."""

    async def complete(self, model: ModelSpec, messages: Sequence[Message]) -> Completion:
        """Answer `messages` with `model`."""
        ...


def _retryable(exc: Exception) -> bool:
    import litellm

    retryable = (
        litellm.RateLimitError,
        litellm.Timeout,
        litellm.APIConnectionError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
    )
    return isinstance(exc, retryable)


class LiteLLMClient:
    """LLM through `litellm.acompletion`, with a concurrency limit per model and retries with backoff.

    Registers the offline coder as the `airad-offline/...` provider when constructed.
    """

    def __init__(self, *, concurrency: int = 16, retries: int = 4, backoff_s: float = 1.0, seed: int = 0):
        import litellm

        from airad.offline.provider import register

        register()
        litellm.suppress_debug_info = True
        warnings.filterwarnings("ignore", message="Pydantic serializer warnings", category=UserWarning)
        self._litellm = litellm
        self.concurrency = concurrency
        self.retries = retries
        self.backoff_s = backoff_s
        self._limiters: dict[str, anyio.CapacityLimiter] = {}
        self._jitter = random.Random(seed)

    def _limiter(self, model: str) -> anyio.CapacityLimiter:
        if model not in self._limiters:
            self._limiters[model] = anyio.CapacityLimiter(self.concurrency)
        return self._limiters[model]

    async def complete(self, model: ModelSpec, messages: Sequence[Message]) -> Completion:
        """Call the model, retrying transient failures (429, 5xx, timeouts) with exponential backoff."""
        payload = [{"role": m.role, "content": m.content} for m in messages]
        async with self._limiter(model.name):
            for attempt in range(self.retries + 1):
                started = time.monotonic()
                try:
                    response = await self._litellm.acompletion(
                        model=model.name, messages=payload, temperature=model.temperature,
                        max_tokens=model.max_tokens, timeout=model.timeout_s,
                    )
                    break
                except Exception as exc:
                    if attempt == self.retries or not _retryable(exc):
                        raise LLMError(f"{type(exc).__name__}: {str(exc)[:500]}") from None
                    delay = self.backoff_s * 2**attempt * (1 + self._jitter.random())
                    await anyio.sleep(_retry_after(exc) or delay)
        seconds = time.monotonic() - started
        text = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        try:
            cost = float(self._litellm.completion_cost(completion_response=response) or 0.0)
        except Exception:
            cost = 0.0
        return Completion(
            text=text,
            model=model.name,
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            cost_usd=cost,
            seconds=seconds,
        )


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    value = headers.get("retry-after") if hasattr(headers, "get") else None
    try:
        return min(float(value), 60.0) if value is not None else None
    except ValueError:
        return None
