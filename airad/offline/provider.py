"""The offline coder as a litellm custom provider: `litellm.acompletion(model="airad-offline/coder")`.

Call `register()` once before use; nothing is registered at import time.
"""

from __future__ import annotations

import litellm
from litellm import CustomLLM, ModelResponse
from litellm.types.utils import Usage

from airad.offline.coder import answer

PROVIDER = "airad-offline"
MODEL = f"{PROVIDER}/coder"


class OfflineCoder(CustomLLM):
    """A litellm CustomLLM whose completions come from `airad.offline.coder.answer`."""

    def completion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict, model_response: ModelResponse, *args, **kwargs) -> ModelResponse:
        """Answer the messages synchronously, filling litellm's `model_response`."""
        return _respond(model, messages, model_response)

    async def acompletion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict, model_response: ModelResponse, *args, **kwargs) -> ModelResponse:
        """Answer the messages (the work is pure CPU and quick, so no thread is needed)."""
        return _respond(model, messages, model_response)


def register() -> None:
    """Add the `airad-offline` provider to `litellm.custom_provider_map`, once however often called."""
    if not any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
        litellm.custom_provider_map.append({"provider": PROVIDER, "custom_handler": OfflineCoder()})
    litellm.utils.custom_llm_setup()  # litellm also runs this on every call; doing it now is harmless


def estimate_tokens(text: str) -> int:
    """The usual rough estimate: four characters per token."""
    return len(text) // 4


def _respond(model: str, messages: list, model_response: ModelResponse) -> ModelResponse:
    text = answer(messages)
    prompt_text = "".join(str(m.get("content") or "") for m in messages)
    prompt_tokens, completion_tokens = estimate_tokens(prompt_text), estimate_tokens(text)
    model_response.choices[0].message.content = text  # type: ignore[union-attr]
    model_response.choices[0].finish_reason = "stop"
    model_response.model = model
    model_response.usage = Usage(  # type: ignore[attr-defined]
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )
    return model_response
