"""What went wrong with a model call, in words a run can act on: a fault that passes (retry it), a
model that is broken (stop asking it), or an answer the server refused (ask differently)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

FaultKind = Literal["auth", "unknown_model", "unreachable", "timeout", "passing", "refused", "bad_response"]

# A model whose calls fail this way will fail every call: a run ends rather than spend its budget on it.
BROKEN: frozenset[FaultKind] = frozenset({"auth", "unknown_model", "unreachable"})

FAULT_WORDS: dict[FaultKind, str] = {
    "auth": "was refused its API key",
    "unknown_model": "is not known to its server",
    "unreachable": "could not be reached",
    "timeout": "did not answer in time",
    "passing": "kept failing",
    "refused": "refused the request",
    "bad_response": "answered something that is not a completion",
}
_NO_CONNECTION = re.compile(
    r"connection error|connection refused|connect call failed|cannot connect|failed to establish|"
    r"name or service not known|nodename nor servname|no route to host",
    re.IGNORECASE,
)
_KEY_MISSING = re.compile(r"api[_ ]?key|no auth|unauthori[sz]ed|invalid[_ ]key", re.IGNORECASE)
_NO_SUCH_MODEL = re.compile(r"model.{0,80}(not found|does not exist|not exist|unknown|no such)", re.IGNORECASE)


class LLMError(RuntimeError):
    """The model could not answer; `kind` says why:

    - "auth": the key was refused or is missing (never retried);
    - "unknown_model": the server has no such model (never retried);
    - "unreachable": no server answered, after the call's retries;
    - "timeout": the call took longer than the model's `timeout_s`, after its retries;
    - "passing": rate limits or server errors outlasted the call's retries;
    - "refused": the server rejected the request itself (too long, a bad parameter);
    - "bad_response": the server answered something that is not a completion.
    """

    def __init__(self, message: str, kind: FaultKind = "passing"):
        super().__init__(message)
        self.kind: FaultKind = kind

    @property
    def what(self) -> str:
        """What happened to the model, in a few words that follow its name."""
        return FAULT_WORDS[self.kind]

    @property
    def broken(self) -> bool:
        """Whether every call to this model will fail the same way (auth, unknown model, no server)."""
        return self.kind in BROKEN


def fault_kind(litellm, exc: Exception) -> FaultKind:
    """Sort an exception raised by `litellm.acompletion` into a `FaultKind`: by the HTTP status where
    the server gave one, else by litellm's type and message (litellm reports a refused connection as
    an InternalServerError "Connection error", and a client without a key as a connection error)."""
    message = str(exc)
    status = getattr(exc, "status_code", None)
    if _NO_CONNECTION.search(message):
        return "unreachable"
    if status in (401, 403) or isinstance(exc, (litellm.AuthenticationError, litellm.PermissionDeniedError)):
        return "auth"
    if status == 404 or isinstance(exc, litellm.NotFoundError):
        return "unknown_model"
    if isinstance(exc, litellm.Timeout) or status == 408:
        return "timeout"
    if status == 429 or (isinstance(status, int) and status >= 500) or isinstance(exc, _passing_types(litellm)):
        return "passing"
    if isinstance(exc, litellm.APIConnectionError):
        return "auth" if _KEY_MISSING.search(message) else "unreachable"
    if isinstance(exc, litellm.BadRequestError):
        return "unknown_model" if _NO_SUCH_MODEL.search(message) else "refused"
    return "auth" if _KEY_MISSING.search(message) else "refused"


def _passing_types(litellm) -> tuple[type[Exception], ...]:
    return (
        litellm.RateLimitError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
        litellm.BadGatewayError,
    )


def retried(kind: FaultKind, retry_timeouts: bool) -> bool:
    """Whether a call that failed this way is tried again (within its retries)."""
    return kind in ("passing", "unreachable") or (kind == "timeout" and retry_timeouts)


def retry_after(exc: Exception) -> float | None:
    """The server's Retry-After, in seconds (at most a minute), if it sent one."""
    # litellm swaps `exc.response` for a stand-in without headers; the server's are kept here.
    headers = (
        getattr(exc, "litellm_response_headers", None) or getattr(getattr(exc, "response", None), "headers", None) or {}
    )
    value = headers.get("retry-after") if hasattr(headers, "get") else None
    try:
        return min(float(value), 60.0) if value is not None else None
    except ValueError:
        return None


SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)


def secret_values(env: Mapping[str, str]) -> tuple[str, ...]:
    """The values (8 characters or more) of the variables whose names say they hold a secret, longest first."""
    return tuple(sorted({v for k, v in env.items() if SECRET_NAME.search(k) and len(v) >= 8}, key=len, reverse=True))


def redact(text: str, key: str | None, secrets: tuple[str, ...] = ()) -> str:
    """`text` with the call's key and every secret value replaced by ***."""
    for secret in (key, *secrets) if key else secrets:
        text = text.replace(secret, "***")
    return text
