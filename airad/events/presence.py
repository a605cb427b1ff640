"""Which daemons serve: each announces itself in the KV bucket `AIRAD_DAEMONS`, one key per owner id,
and its entry expires with the bucket's TTL unless announced again (a daemon that dies vanishes)."""

from __future__ import annotations

import importlib.metadata
import re

import msgspec
import nats.js.errors
from nats.js import JetStreamContext

from airad.events.jetstream import bucket, latest_values

DAEMONS_BUCKET = "AIRAD_DAEMONS"
_NOT_IN_A_KEY = re.compile(r"[^-/_=.a-zA-Z0-9]")


class DaemonInfo(msgspec.Struct, frozen=True):
    """What one heartbeat says: which daemon (owner id, host, pid, version), since when, when it beat, and
    what it drives now (run ids, experiment ids, its `max_runs` cap; 0: no limit)."""

    owner: str
    host: str
    pid: int
    started_at: float
    seen_at: float
    runs: tuple[str, ...] = ()
    experiments: tuple[str, ...] = ()
    max_runs: int = 0
    version: str = ""


def presence_key(owner: str) -> str:
    """The KV key of a daemon's heartbeat: its owner id, with characters a key may not hold replaced by `_`
    (and no empty token between dots)."""
    key = _NOT_IN_A_KEY.sub("_", owner)
    return ".".join(token or "_" for token in key.split("."))


class DaemonPresence:
    """The daemons' heartbeats in the `AIRAD_DAEMONS` bucket: announced, withdrawn, listed."""

    def __init__(self, kv):
        self.kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext, ttl_s: float, replicas: int = 1) -> DaemonPresence:
        """Create or bind the bucket; an entry lives `ttl_s` after its last announcement (the TTL and the
        replicas are fixed when the bucket is created)."""
        return cls(await bucket(js, DAEMONS_BUCKET, history=1, ttl=ttl_s, replicas=replicas))

    @classmethod
    async def existing(cls, js: JetStreamContext) -> DaemonPresence | None:
        """Bind the bucket without creating it; None when no daemon ever created it."""
        try:
            return cls(await js.key_value(DAEMONS_BUCKET))
        except nats.js.errors.BucketNotFoundError:
            return None

    async def announce(self, info: DaemonInfo) -> None:
        """Write the daemon's heartbeat (which restarts its TTL)."""
        await self.kv.put(presence_key(info.owner), msgspec.json.encode(info))

    async def withdraw(self, owner: str) -> None:
        """Remove the daemon's heartbeat (on a clean shutdown); a missing one is no error."""
        try:
            await self.kv.delete(presence_key(owner))
        except nats.js.errors.KeyNotFoundError:
            pass

    async def list(self) -> list[DaemonInfo]:
        """The live heartbeats, sorted by owner; an entry that is not a heartbeat is left out."""
        daemons = []
        for value in await latest_values(self.kv):
            try:
                daemons.append(msgspec.json.decode(value, type=DaemonInfo))
            except msgspec.DecodeError:
                continue
        return sorted(daemons, key=lambda info: info.owner)


def installed_version() -> str:
    """airad's installed version ("" when run from a tree that was never installed)."""
    try:
        return importlib.metadata.version("airad")
    except importlib.metadata.PackageNotFoundError:
        return ""
