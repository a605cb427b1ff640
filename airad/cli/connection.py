"""How a command reaches the log: an `airad.Client` over the NATS server the settings name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from airad.daemon.settings import Settings

if TYPE_CHECKING:
    from airad.client import Client


@asynccontextmanager
async def connect(settings: Settings, environ: Mapping[str, str]) -> AsyncIterator[Client]:
    """A Client over `settings.nats_url` (authenticated from `settings.nats_auth`, secrets looked up in
    `environ`), else the state dir's embedded server, started if none runs; closed on the way out."""
    from airad.client import Client
    from airad.daemon.connection import nats_connection

    async with nats_connection(settings, environ) as (nc, _):
        yield Client.from_connection(nc)
