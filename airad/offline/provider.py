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

from airad.offline.coder import prompt_seed, respond

PROVIDER = "airad-offline"
CONTEXT_KEY = "airad_context"  # litellm metadata key: the operator's structured context, which the coder reads
MODEL = f"{PROVIDER}/coder"


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


def estimate_tokens(text: str) -> int:
    """The usual rough estimate: four characters per token."""
    return len(text) // 4


def _respond(
    model: str, messages: list, model_response: ModelResponse, optional_params: dict | None, litellm_params: dict | None
) -> ModelResponse:
    params = optional_params or {}
    metadata = (litellm_params or {}).get("metadata") or {}
    reply = respond(messages, params.get("tools"), params.get("tool_choice"), metadata.get(CONTEXT_KEY))
    message = model_response.choices[0].message
    if reply.tool_name is not None:
        call_id = f"call_{prompt_seed(messages):016x}"  # deterministic, unlike litellm's default uuid4
        message.content = None
        message.tool_calls = [
            ChatCompletionMessageToolCall(
                id=call_id, type="function", function=Function(name=reply.tool_name, arguments=reply.tool_arguments)
            )
        ]
        model_response.choices[0].finish_reason = "tool_calls"
        completion_text = f"{reply.tool_name}{reply.tool_arguments}"
    else:
        message.content = reply.text
        model_response.choices[0].finish_reason = "stop"
        completion_text = reply.text or ""
    prompt_text = "".join(str(m.get("content") or "") for m in messages)
    prompt_tokens, completion_tokens = estimate_tokens(prompt_text), estimate_tokens(completion_text)
    model_response.model = model
    model_response.usage = Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )
    return model_response
