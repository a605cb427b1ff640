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


RECONNECT_WAIT_S = 2.0  # between reconnection attempts of an established connection (nats.py's default)


class NatsConnectError(ConnectionError):
    """NATS could not be reached, or refused airad; the message names the problem and no secret."""


def server_urls(url: str) -> list[str]:
    """The servers of a NATS URL setting: one URL, or several comma-separated, as NATS tools take them."""
    return [part.strip() for part in url.split(",") if part.strip()]


def safe_url(url: str) -> str:
    """`url` (or comma-separated URLs) without any user:password@ part, for messages and logs."""
    return ",".join(_safe_one(part) for part in server_urls(url)) or url


def _safe_one(url: str) -> str:
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
    if tls_ca_file or tls_cert_file or any(part.startswith("tls://") for part in server_urls(url)):
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
    seen: list[Exception] = []  # the errors of the first connection: its failure names the cause, once
    connected = False

    async def first_errors(exc: Exception) -> None:
        if connected:
            await _log_error(exc)
        elif len(seen) < 8:
            seen.append(exc)

    try:
        nc = await nats.connect(
            servers=server_urls(url),
            name=name,
            connect_timeout=connect_timeout_s,
            allow_reconnect=False,
            # nats.py tries the listed servers until each failed more than this, waiting between tries:
            # twice each, 0.2 s apart, instead of its default of minutes.
            max_reconnect_attempts=1,
            reconnect_time_wait=0.2,
            error_cb=first_errors,
            **(options or {}),
        )
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        cause = seen[-1] if isinstance(exc, nats.errors.NoServersError) and seen else exc
        raise NatsConnectError(_describe(url, cause, connect_timeout_s)) from None
    connected = True
    nc.options["allow_reconnect"] = True
    nc.options["max_reconnect_attempts"] = max_reconnect_attempts
    nc.options["reconnect_time_wait"] = RECONNECT_WAIT_S
    return nc
