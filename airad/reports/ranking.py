"""Rank solvers across tasks from pairwise results: a Bradley–Terry model fitted by MM iterations.

A contest is one (task, seed): every solver that has a result there is compared with every other
one that has. Solvers missing from a contest (a run that never finished) simply take no part in it,
so a missing run costs comparisons, never a loss. The model gives each solver a strength `p` such
that P(i beats j) = p_i / (p_i + p_j); Hunter's MM algorithm (2004) fits it by iterating

    p_i <- W_i / sum_j n_ij / (p_i + p_j)

where W_i counts i's wins (a tie is half a win each) and n_ij the comparisons of i and j. A solver
that won (or lost) every comparison has no finite maximum-likelihood strength, so every pair of
ranked solvers also gets one virtual tie, a weak prior that keeps strengths finite and the
comparison graph connected. Strengths are scaled to a mean of 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

from msgspec import Struct

METHOD = "Bradley–Terry (MM iterations over pairwise wins per task and seed, one virtual tie per pair as prior)"
PRIOR_TIE = 0.5

Contest = Mapping[str, float | None]
"""One task and seed: solver -> its score oriented so that higher is better; None: ran but has no score."""


class SolverRank(Struct, frozen=True):
    """One solver's place: rank 1 is the strongest (equal strengths share a rank); None when the
    solver took part in no comparison. `wins` and `comparisons` count real contests only."""

    solver: str
    rank: int | None
    strength: float | None
    wins: float
    comparisons: int


class Ranking(Struct, frozen=True):
    """Solvers from strongest to weakest, the unranked last, and the method that ranked them."""

    method: str
    solvers: list[SolverRank]
    contests: int


def _outcome(a: float | None, b: float | None) -> float:
    """a's share of the win against b: 1, 0.5 or 0. A score beats no score."""
    if a is None or b is None:
        return 0.5 if a is None and b is None else (0.0 if a is None else 1.0)
    return 1.0 if a > b else 0.5 if a == b else 0.0


def pairwise_wins(contests: Iterable[Contest]) -> dict[tuple[str, str], float]:
    """wins[(i, j)]: how often i beat j, over every contest both took part in (ties count half)."""
    wins: dict[tuple[str, str], float] = {}
    for contest in contests:
        for a, b in combinations(sorted(contest), 2):
            share = _outcome(contest[a], contest[b])
            wins[(a, b)] = wins.get((a, b), 0.0) + share
            wins[(b, a)] = wins.get((b, a), 0.0) + 1.0 - share
    return wins


def bradley_terry(
    solvers: Sequence[str],
    wins: Mapping[tuple[str, str], float],
    *,
    tolerance: float = 1e-10,
    max_iterations: int = 10_000,
) -> dict[str, float]:
    """Bradley–Terry strengths (mean 1) of `solvers` from `wins`, which must connect them all with
    positive wins both ways (the virtual ties of `rank_solvers` see to it)."""
    pairs = {(i, j): wins.get((i, j), 0.0) + wins.get((j, i), 0.0) for i in solvers for j in solvers if i != j}
    total_wins = {i: sum(wins.get((i, j), 0.0) for j in solvers if j != i) for i in solvers}
    strength = {i: 1.0 for i in solvers}
    for _ in range(max_iterations):
        updated = {}
        for i in solvers:
            denominator = sum(n / (strength[i] + strength[j]) for (a, j), n in pairs.items() if a == i and n > 0)
            updated[i] = total_wins[i] / denominator
        mean = sum(updated.values()) / len(updated)
        updated = {i: p / mean for i, p in updated.items()}
        change = max(abs(math.log(updated[i] / strength[i])) for i in solvers)
        strength = updated
        if change < tolerance:
            break
    return strength


def rank_solvers(solvers: Sequence[str], contests: Iterable[Contest]) -> Ranking:
    """Rank `solvers` by their Bradley–Terry strength over `contests`."""
    contests = [{s: v for s, v in contest.items() if s in solvers} for contest in contests]
    real = pairwise_wins(contests)
    compared = [s for s in solvers if any(i == s for i, _ in real)]
    strength: dict[str, float] = {}
    if len(compared) >= 2:
        with_prior = dict(real)
        for i, j in combinations(compared, 2):
            with_prior[(i, j)] = with_prior.get((i, j), 0.0) + PRIOR_TIE
            with_prior[(j, i)] = with_prior.get((j, i), 0.0) + PRIOR_TIE
        strength = bradley_terry(compared, with_prior)
    ranked = sorted(solvers, key=lambda s: (s not in strength, -strength.get(s, 0.0), list(solvers).index(s)))
    entries = []
    for solver in ranked:
        p = strength.get(solver)
        rank = None if p is None else 1 + sum(1 for q in strength.values() if q > p * (1 + 1e-9))
        entries.append(
            SolverRank(
                solver=solver,
                rank=rank,
                strength=p,
                wins=sum((w for (i, _), w in real.items() if i == solver), 0.0),
                comparisons=round(
                    sum(real.get((solver, j), 0.0) + real.get((j, solver), 0.0) for j in solvers if j != solver)
                ),
            )
        )
    return Ranking(method=METHOD, solvers=entries, contests=sum(1 for c in contests if len(c) >= 2))
