"""Daemons on one NATS share one split secret, so a run resumed by another daemon (with its own
state dir) keeps its validation and test rows: the first daemon's secret goes into the
installation bucket, and a later daemon with a secret of its own adopts the shared one."""

from __future__ import annotations

from pathlib import Path

import nats
import pytest

from airad.daemon.daemon import _share_split_secret
from airad.events.jetstream import ensure_streams
from airad.tasks import split_secret

pytestmark = pytest.mark.integration


async def test_a_second_daemon_adopts_the_first_daemons_secret(nats_url, tmp_path: Path):
    first, second = tmp_path / "a" / "tasks", tmp_path / "b" / "tasks"
    own_secret_of_second = split_secret.load_or_create(second)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        await _share_split_secret(js, first)
        await _share_split_secret(js, second)
        await _share_split_secret(js, first)
    finally:
        await nc.close()
    shared = split_secret.load_or_create(first)
    assert split_secret.load_or_create(second) == shared != own_secret_of_second
    assert (second / split_secret.SECRET_FILE).stat().st_mode & 0o777 == 0o600
