"""The offline coder's answer to one chat call, with the usage a provider would report: what the
daemon's model client returns for `airad-offline/...` models without importing litellm, and what the
litellm custom provider (`provider.py`) wraps in a litellm response."""

from __future__ import annotations

from dataclasses import dataclass

from airad.offline.coder import prompt_seed, respond

PROVIDER = "airad-offline"
MODEL = f"{PROVIDER}/coder"
CONTEXT_KEY = "airad_context"  # litellm metadata key: the operator's structured context, which the coder reads


def estimate_tokens(text: str) -> int:
    """The usual rough estimate: four characters per token."""
    return len(text) // 4


@dataclass(frozen=True)
class OfflineCompletion:
    """The coder's text or tool call, the deterministic id of that call, and estimated token counts."""

    text: str | None
    tool_name: str | None
    tool_arguments: str | None
    call_id: str
    prompt_tokens: int
    completion_tokens: int


def offline_completion(
    messages: list[dict], tools: list | None = None, tool_choice: object = None, context: dict | None = None
) -> OfflineCompletion:
    """Answer litellm-style `messages` (reading `context` when given), with estimated usage."""
    reply = respond(messages, tools, tool_choice, context)
    completion_text = f"{reply.tool_name}{reply.tool_arguments}" if reply.tool_name is not None else reply.text or ""
    prompt_text = "".join(str(m.get("content") or "") for m in messages)
    return OfflineCompletion(
        text=None if reply.tool_name is not None else reply.text,
        tool_name=reply.tool_name,
        tool_arguments=reply.tool_arguments,
        call_id=f"call_{prompt_seed(messages):016x}",  # deterministic, unlike litellm's default uuid4
        prompt_tokens=estimate_tokens(prompt_text),
        completion_tokens=estimate_tokens(completion_text),
    )
