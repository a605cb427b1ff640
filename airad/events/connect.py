"""Connect to NATS the one way airad does (daemon, CLI, `airad.Client`, the MLflow tail).

`connect_nats` tries the first connection once, so wrong credentials, a TLS failure or nothing
listening fail at once with a `NatsConnectError` naming the problem; only an established connection
reconnects. `connect_options` builds the authentication and TLS arguments of `nats.connect`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import nats
import nats.errors
import structlog
from nats.aio.client import Client

from airad.events import request_tokens

log = structlog.get_logger("airad.nats")


class NatsConnectError(ConnectionError):
    """NATS could not be reached, or refused airad; the message names the problem and no secret."""


def safe_url(url: str) -> str:
    """`url` without any user:password@ part, for messages and logs."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


def connect_options(
    url: str,
    *,
    user: str | None = None,
    password: str | None = None,
    token: str | None = None,
    nkey_seed_file: str | None = None,
    tls_ca_file: str | None = None,
    tls_cert_file: str | None = None,
    tls_key_file: str | None = None,
) -> dict:
    """The authentication and TLS keyword arguments of `nats.connect` for `url`."""
    options: dict = {}
    if user is not None:
        options.update(user=user, password=password or "")
    if token:
        options["token"] = token
    if nkey_seed_file:
        if not Path(nkey_seed_file).is_file():
            raise NatsConnectError(f"NATS nkey seed file {nkey_seed_file} does not exist")
        options["nkeys_seed"] = str(nkey_seed_file)
    if tls_ca_file or tls_cert_file or url.startswith("tls://"):
        try:
            context = ssl.create_default_context(cafile=tls_ca_file)
            if tls_cert_file:
                context.load_cert_chain(tls_cert_file, tls_key_file)
        except (OSError, ssl.SSLError) as exc:
            raise NatsConnectError(f"NATS TLS files: {exc}") from None
        options["tls"] = context
    return options


def _describe(url: str, exc: BaseException, timeout_s: float) -> str:
    where = f"NATS at {safe_url(url)}"
    text = str(exc)
    if "authorization violation" in text.lower() or "authentication" in text.lower():
        return f"{where} refused the credentials (authorization violation): check the nats_auth settings"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {where} failed: {getattr(exc, 'verify_message', None) or exc.reason or text}"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, nats.errors.TimeoutError)):
        return f"{where} did not answer within {timeout_s:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return f"nothing is listening at {where}"
    if "tls" in text.lower() or "ssl" in text.lower():
        return f"TLS with {where} failed: {text}"
    return f"cannot connect to {where}: {type(exc).__name__}: {text}"


async def _log_error(exc: Exception) -> None:
    log.warning("nats.error", error=f"{type(exc).__name__}: {exc}")


async def connect_nats(
    url: str,
    options: Mapping | None = None,
    *,
    name: str,
    connect_timeout_s: float = 5.0,
    max_reconnect_attempts: int = 3,
) -> Client:
    """Connect once (no retries, so wrong credentials fail at once); the connection then reconnects
    up to `max_reconnect_attempts` times (-1: forever) whenever it drops."""
    request_tokens.install()
    try:
        nc = await nats.connect(
            url,
            name=name,
            connect_timeout=connect_timeout_s,
            allow_reconnect=False,
            error_cb=_log_error,
            **(options or {}),
        )
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        raise NatsConnectError(_describe(url, exc, connect_timeout_s)) from None
    nc.options["allow_reconnect"] = True
    nc.options["max_reconnect_attempts"] = max_reconnect_attempts
    return nc
