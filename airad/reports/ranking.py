"""Rank solvers across tasks from pairwise results: a Bradley–Terry model fitted by MM iterations, and
Soft Condorcet Optimization beside it.

A contest is one (task, seed): every solver that has a result there is compared with every other
one that has. Solvers missing from a contest (a run that never finished) simply take no part in it,
so a missing run costs comparisons, never a loss. The model gives each solver a strength `p` such
that P(i beats j) = p_i / (p_i + p_j); Hunter's MM algorithm (2004) fits it by iterating

    p_i <- W_i / sum_j n_ij / (p_i + p_j)

where W_i counts i's wins (a tie is half a win each) and n_ij the comparisons of i and j. A solver
that won (or lost) every comparison has no finite maximum-likelihood strength, so every pair of
ranked solvers also gets one virtual tie, a weak prior that keeps strengths finite and the
comparison graph connected. Strengths are scaled to a mean of 1.

Soft Condorcet Optimization (SCO; Lanctot et al. 2024, "Soft Condorcet Optimization for Ranking of
General Agents") reads each contest as a vote that ranks the solvers in it by score, and gives each
solver a rating θ that minimises the soft Kendall-tau disagreement with the votes: the sum, over
every vote and every pair a ranked above b in it, of sigmoid((θ_b − θ_a) / τ). Ties give no pair,
and neither does a solver absent from a vote: missing comparisons are simply missing. `soft_condorcet`
runs plain gradient descent from θ = 0 with τ = 1, learning rate 0.01 and 2000 steps, clipping θ to
[0, 100] after each step as the paper does; nothing is random.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

from msgspec import Struct

METHOD = "Bradley–Terry (MM iterations over pairwise wins per task and seed, one virtual tie per pair as prior)"
PRIOR_TIE = 0.5
SCO_TAU = 1.0
SCO_LEARNING_RATE = 0.01
SCO_STEPS = 2000
SCO_MAX_RATING = 100.0
SCO_METHOD = (
    "Soft Condorcet Optimization (Lanctot et al. 2024; gradient descent on the soft Kendall-tau disagreement "
    f"with the task × seed votes, tau {SCO_TAU:g}, learning rate {SCO_LEARNING_RATE:g}, {SCO_STEPS} steps "
    f"from 0, ratings clipped to [0, {SCO_MAX_RATING:g}])"
)

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


class SolverRating(Struct, frozen=True):
    """One solver's place by SCO: rank 1 has the highest rating (equal ratings share a rank); None when
    the solver is in no vote with another solver. `above` and `pairs` count the ranked pairs of the
    votes it is in: those it is above, and all (ties give none)."""

    solver: str
    rank: int | None
    rating: float | None
    above: int
    pairs: int


class ScoRanking(Struct, frozen=True):
    """Solvers from highest SCO rating to lowest, the unrated last; `votes` counts the votes of two or more."""

    method: str
    solvers: list[SolverRating]
    votes: int


def vote_pairs(votes: Iterable[Contest]) -> dict[tuple[str, str], int]:
    """pairs[(a, b)]: in how many votes a was ranked above b (a higher score, or a score against none).
    Ties give no pair, and a solver absent from a vote takes no part in it."""
    pairs: dict[tuple[str, str], int] = {}
    for vote in votes:
        for a, b in combinations(sorted(vote), 2):
            share = _outcome(vote[a], vote[b])
            if share != 0.5:
                key = (a, b) if share == 1.0 else (b, a)
                pairs[key] = pairs.get(key, 0) + 1
    return pairs


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def soft_condorcet(
    solvers: Sequence[str],
    pairs: Mapping[tuple[str, str], int],
    *,
    tau: float = SCO_TAU,
    learning_rate: float = SCO_LEARNING_RATE,
    steps: int = SCO_STEPS,
    max_rating: float = SCO_MAX_RATING,
) -> dict[str, float]:
    """SCO ratings of `solvers`: the θ that minimises the soft Kendall-tau disagreement

        L(θ) = Σ_(a, b) n_ab · sigmoid((θ_b − θ_a) / τ)

    where n_ab counts the votes that rank a above b (`pairs`, from `vote_pairs`), found by plain
    gradient descent: θ starts at 0 for every solver and takes `steps` steps of `learning_rate` times
    the full gradient, each followed by clipping θ to [0, `max_rating`]. Deterministic."""
    theta = dict.fromkeys(solvers, 0.0)
    terms = [(a, b, n) for (a, b), n in sorted(pairs.items()) if a in theta and b in theta]
    for _ in range(steps):
        gradient = dict.fromkeys(solvers, 0.0)
        for a, b, n in terms:
            sig = _sigmoid((theta[b] - theta[a]) / tau)
            slope = n * sig * (1.0 - sig) / tau
            gradient[a] -= slope
            gradient[b] += slope
        theta = {s: min(max_rating, max(0.0, theta[s] - learning_rate * gradient[s])) for s in solvers}
    return theta


def rank_solvers_sco(solvers: Sequence[str], contests: Iterable[Contest]) -> ScoRanking:
    """Rank `solvers` by their SCO rating over `contests`, each a vote."""
    votes = [{s: v for s, v in contest.items() if s in solvers} for contest in contests]
    votes = [vote for vote in votes if len(vote) >= 2]
    pairs = vote_pairs(votes)
    rated = [s for s in solvers if any(s in vote for vote in votes)]
    rating = soft_condorcet(rated, pairs) if rated else {}
    ranked = sorted(solvers, key=lambda s: (s not in rating, -rating.get(s, 0.0), list(solvers).index(s)))
    entries = []
    for solver in ranked:
        theta = rating.get(solver)
        entries.append(
            SolverRating(
                solver=solver,
                rank=None if theta is None else 1 + sum(1 for t in rating.values() if t > theta + 1e-9),
                rating=theta,
                above=sum(n for (a, _), n in pairs.items() if a == solver),
                pairs=sum(n for (a, b), n in pairs.items() if solver in (a, b)),
            )
        )
    return ScoRanking(method=SCO_METHOD, solvers=entries, votes=len(votes))
