"""Slurm job states for many waiters from one `squeue` a round, so a daemon waiting on hundreds of
jobs asks the controller about all of them at once instead of once per job."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from airad.executors.slurm_commands import Completed

UNKNOWN_JOB = b"Invalid job id"
BATCH = 500
MIN_GAP_S = 0.5


class SqueueStates:
    """Answers "which state is Slurm job N in?" (`state`) for every waiter with one query per round:
    the ids asked since the last round go into one `squeue -j` (`BATCH` ids a call), and rounds start
    at most every `min_gap_s`. `ask` runs a Slurm command (retrying while the controller is away).
    `asks` and `queries` count the questions and the squeue calls that answered them."""

    def __init__(self, ask: Callable[..., Awaitable[Completed]], min_gap_s: float = MIN_GAP_S):
        self._ask = ask
        self._min_gap_s = min_gap_s
        self._asked: dict[str, list[asyncio.Future]] = {}
        self._rounds: asyncio.Task | None = None
        self._last_round = -math.inf
        self.asks = 0
        self.queries = 0

    async def state(self, slurm_id: str) -> str | None:
        """The job's state at the next round (e.g. "RUNNING", "COMPLETED"); None once squeue no longer
        lists it. A failed query raises in every waiter it was for."""
        self.asks += 1
        future = asyncio.get_running_loop().create_future()
        self._asked.setdefault(slurm_id, []).append(future)
        if self._rounds is None or self._rounds.done():
            self._rounds = asyncio.create_task(self._run_rounds())
        return await future

    async def aclose(self) -> None:
        """Stop asking; waiters still waiting are cancelled."""
        if self._rounds is not None:
            self._rounds.cancel()
            await asyncio.gather(self._rounds, return_exceptions=True)
        for futures in self._asked.values():
            for future in futures:
                future.cancel()

    async def _run_rounds(self) -> None:
        while self._asked:
            await asyncio.sleep(max(0.0, self._last_round + self._min_gap_s - time.monotonic()))
            asked, self._asked = self._asked, {}
            self._last_round = time.monotonic()
            ids = list(asked)
            for start in range(0, len(ids), BATCH):
                chunk = ids[start : start + BATCH]
                try:
                    states = await self._query(chunk)
                except Exception as exc:
                    for slurm_id in chunk:
                        _settle(asked[slurm_id], error=exc)
                else:
                    for slurm_id in chunk:
                        _settle(asked[slurm_id], result=states.get(slurm_id))

    async def _query(self, ids: list[str]) -> dict[str, str]:
        self.queries += 1
        done = await self._ask("squeue", "-h", "-t", "all", "-j", ",".join(ids), "-o", "%i %T")
        if done.returncode != 0 and UNKNOWN_JOB not in done.stderr:
            named = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            raise RuntimeError(f"squeue failed for Slurm job {named}: {done.error}")
        states = {}
        for line in done.stdout.decode().splitlines():
            fields = line.split()
            if len(fields) >= 2:
                states[fields[0]] = fields[1]
        return states


def _settle(futures: list[asyncio.Future], result: str | None = None, error: Exception | None = None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
