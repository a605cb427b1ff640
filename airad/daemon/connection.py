"""Reach the NATS server a command should use: the configured URL, a running embedded one, or a new one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
from nats.aio.client import Client

from airad.daemon.nats_server import EmbeddedNats
from airad.daemon.settings import Settings
from airad.events.jetstream import ensure_streams


@asynccontextmanager
async def nats_connection(settings: Settings) -> AsyncIterator[tuple[Client, str]]:
    """Connect to `settings.nats_url`, else the embedded server of the state dir, starting one if none runs."""
    settings.state_path.mkdir(parents=True, exist_ok=True)
    url = settings.nats_url or EmbeddedNats.running_url(settings.state_path)
    server = None
    if url is None:
        server = EmbeddedNats(settings.state_path)
        url = server.start()
    try:
        nc = await nats.connect(url, name="airad", connect_timeout=5, max_reconnect_attempts=3)
        try:
            await ensure_streams(nc.jetstream())
            yield nc, url
        finally:
            await nc.close()
    finally:
        if server is not None:
            server.stop()
