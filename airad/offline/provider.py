"""The offline coder as a litellm custom provider: `litellm.acompletion(model="airad-offline/coder")`.

Call `register()` once before use; nothing is registered at import time. Tools passed to
`acompletion(tools=..., tool_choice=...)` reach the handler in `optional_params`; when the coder
answers with a tool call, the response carries it OpenAI-style in `message.tool_calls` with
`finish_reason == "tool_calls"` and no text content.
"""

from __future__ import annotations

import litellm
from litellm import CustomLLM, ModelResponse
from litellm.types.utils import ChatCompletionMessageToolCall, Function, Usage

from airad.offline.reply import CONTEXT_KEY, MODEL, PROVIDER, estimate_tokens, offline_completion

__all__ = ["CONTEXT_KEY", "MODEL", "PROVIDER", "OfflineCoder", "estimate_tokens", "register"]


class OfflineCoder(CustomLLM):
    """A litellm CustomLLM whose completions come from `airad.offline.coder.answer`."""

    def completion(
        self,
        model: str,
        messages: list,
        api_base: str,
        custom_prompt_dict: dict,
        model_response: ModelResponse,
        *args,
        **kwargs,
    ) -> ModelResponse:
        """Answer the messages synchronously, filling litellm's `model_response`."""
        return _respond(model, messages, model_response, kwargs.get("optional_params"), kwargs.get("litellm_params"))

    async def acompletion(
        self,
        model: str,
        messages: list,
        api_base: str,
        custom_prompt_dict: dict,
        model_response: ModelResponse,
        *args,
        **kwargs,
    ) -> ModelResponse:
        """Answer the messages (the work is pure CPU and quick, so no thread is needed)."""
        return _respond(model, messages, model_response, kwargs.get("optional_params"), kwargs.get("litellm_params"))


def register() -> None:
    """Add the `airad-offline` provider to `litellm.custom_provider_map`, once however often called."""
    if not any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
        litellm.custom_provider_map.append({"provider": PROVIDER, "custom_handler": OfflineCoder()})
    litellm.utils.custom_llm_setup()  # litellm also runs this on every call; doing it now is harmless


def _respond(
    model: str, messages: list, model_response: ModelResponse, optional_params: dict | None, litellm_params: dict | None
) -> ModelResponse:
    params = optional_params or {}
    metadata = (litellm_params or {}).get("metadata") or {}
    reply = offline_completion(messages, params.get("tools"), params.get("tool_choice"), metadata.get(CONTEXT_KEY))
    message = model_response.choices[0].message
    if reply.tool_name is not None:
        message.content = None
        call = Function(name=reply.tool_name, arguments=reply.tool_arguments)
        message.tool_calls = [ChatCompletionMessageToolCall(id=reply.call_id, type="function", function=call)]
        model_response.choices[0].finish_reason = "tool_calls"
    else:
        message.content = reply.text
        model_response.choices[0].finish_reason = "stop"
    model_response.model = model
    model_response.usage = Usage(
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        total_tokens=reply.prompt_tokens + reply.completion_tokens,
    )
    return model_response
