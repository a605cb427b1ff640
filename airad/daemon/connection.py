"""Reach the NATS server a command should use: the configured URL (authenticated from the
`nats_auth` settings), a running embedded one, or a new one. The connecting itself is
`airad.events.connect`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from pathlib import Path

import anyio
from nats.aio.client import Client

from airad.daemon.nats_server import shared_server
from airad.daemon.settings import NatsAuth, Settings
from airad.events.connect import NatsConnectError, connect_nats, connect_options, safe_url
from airad.events.jetstream import ensure_streams

__all__ = [
    "NatsConnectError",
    "connect_nats",
    "connect_options",
    "nats_connection",
    "resolve_auth",
    "safe_url",
    "settings_connect_options",
]


def _secret(what: str, variable: str | None, file: str | None, env: Mapping[str, str]) -> str | None:
    if variable:
        value = env.get(variable)
        if not value:
            raise NatsConnectError(f"NATS {what}: the variable {variable} is not set")
        return value
    if file:
        try:
            return Path(file).read_text().strip()
        except OSError as exc:
            raise NatsConnectError(f"NATS {what}: cannot read {file}: {exc.strerror}") from None
    return None


def resolve_auth(auth: NatsAuth, env: Mapping[str, str]) -> dict:
    """The keyword arguments of `connect_options` for `auth`, secrets read from `env` or files now."""
    return {
        "user": auth.user,
        "password": _secret("password", auth.password_env, auth.password_file, env),
        "token": _secret("token", auth.token_env, auth.token_file, env),
        "nkey_seed_file": auth.nkey_seed_file,
        "tls_ca_file": auth.tls_ca_file,
        "tls_cert_file": auth.tls_cert_file,
        "tls_key_file": auth.tls_key_file,
    }


def settings_connect_options(settings: Settings, url: str, env: Mapping[str, str]) -> dict:
    """`connect_options` from `settings.nats_auth` for the configured URL; none for the embedded server."""
    if settings.nats_url is None:
        return {}
    return connect_options(url, **resolve_auth(settings.nats_auth, env))


@asynccontextmanager
async def nats_connection(
    settings: Settings, env: Mapping[str, str] | None = None
) -> AsyncIterator[tuple[Client, str]]:
    """Connect to `settings.nats_url` (authenticated from `settings.nats_auth`, secrets looked up in
    `env`), else the embedded server of the state dir, shared with the other processes using it: started
    if none runs, stopped on the way out when no other process uses it."""
    settings.state_path.mkdir(parents=True, exist_ok=True)
    server: AbstractContextManager[str] = (
        nullcontext(settings.nats_url) if settings.nats_url else shared_server(settings.state_path)
    )
    with server as url:
        nc = await connect_nats(url, settings_connect_options(settings, url, env or {}), name="airad")
        try:
            await ensure_streams(nc.jetstream(), replicas=settings.nats_replicas)
            yield nc, url
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await nc.close()
