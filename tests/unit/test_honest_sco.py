"""Soft Condorcet Optimization (Lanctot et al. 2024) beside Bradley–Terry, on votes small enough to
follow by hand."""

import math

import pytest

from airad.reports.ranking import SCO_METHOD, rank_solvers_sco, soft_condorcet, vote_pairs

# A beats B and C where all three ran; B is missing from the second vote and A from the third, and
# the fourth is a tie (no pair). Every vote agrees with A > B > C.
VOTES = [{"A": 3.0, "B": 2.0, "C": 1.0}, {"A": 5.0, "C": 4.0}, {"B": 1.0, "C": 0.0}, {"A": 1.0, "B": 1.0}]


def test_pairs_come_from_each_vote_without_ties_or_absent_solvers():
    pairs = vote_pairs(VOTES + [{"D": None, "E": None}, {"D": 0.1, "E": None}])
    assert pairs == {("A", "B"): 1, ("A", "C"): 2, ("B", "C"): 2, ("D", "E"): 1}


def test_votes_with_missing_comparisons_give_the_order_they_agree_on():
    ranking = rank_solvers_sco(["C", "B", "A"], VOTES)
    assert [(s.solver, s.rank) for s in ranking.solvers] == [("A", 1), ("B", 2), ("C", 3)]
    a, b, c = ranking.solvers
    assert a.rating > b.rating > c.rating == 0.0, "the last is held at the lower bound, 0"
    assert (a.above, a.pairs, b.above, b.pairs, c.above, c.pairs) == (3, 3, 2, 3, 0, 4)
    assert ranking.votes == 4 and ranking.method == SCO_METHOD


def test_a_solver_seen_once_is_not_charged_for_the_votes_it_missed():
    # D ran in a single vote and beat A there; it never met B or C. SCO puts it first: nothing disagrees.
    ranking = rank_solvers_sco(["A", "B", "C", "D"], VOTES + [{"D": 9.0, "A": 1.0}])
    assert [s.solver for s in ranking.solvers] == ["D", "A", "B", "C"]
    assert ranking.solvers[0].pairs == 1


def test_the_ratings_are_deterministic_and_clipped():
    pairs = vote_pairs(VOTES)
    first = soft_condorcet(["A", "B", "C"], pairs)
    assert first == soft_condorcet(["A", "B", "C"], pairs)
    assert all(0.0 <= r <= 100.0 for r in first.values())
    strong = soft_condorcet(["A", "B"], {("A", "B"): 1000}, learning_rate=10.0, steps=50)
    assert strong == {"A": 100.0, "B": 0.0}, "a large step is clipped to [0, 100]"


def test_one_gradient_step_from_zero_moves_each_rating_by_its_net_wins():
    # At θ = 0 every pair's slope is sigmoid'(0) = 1/4. A is above in 3 pairs: it rises by lr * 3/4; B is
    # above in 2 and below in 1: lr * 1/4; C is below in 4: it would fall below 0 and is clipped there.
    one = soft_condorcet(["A", "B", "C"], vote_pairs(VOTES), steps=1)
    assert one["A"] == pytest.approx(0.01 * 0.75) and one["B"] == pytest.approx(0.01 * 0.25) and one["C"] == 0.0


def test_a_cycle_is_a_tie_and_lone_or_absent_solvers_are_unranked():
    cycle = rank_solvers_sco(["A", "B", "C"], [{"A": 1, "B": 0}, {"B": 1, "C": 0}, {"C": 1, "A": 0}])
    assert [s.rank for s in cycle.solvers] == [1, 1, 1] and all(s.rating == 0.0 for s in cycle.solvers)
    alone = rank_solvers_sco(["A", "ghost"], [{"A": 1.0}, {"A": 2.0}])
    assert [(s.solver, s.rank, s.rating) for s in alone.solvers] == [("A", None, None), ("ghost", None, None)]
    assert alone.votes == 0


def test_the_ratings_decrease_the_soft_kendall_tau_disagreement():
    pairs = vote_pairs(VOTES)

    def loss(theta):
        return sum(n / (1 + math.exp(-(theta[b] - theta[a]))) for (a, b), n in pairs.items())

    start = loss({"A": 0.0, "B": 0.0, "C": 0.0})
    assert start == pytest.approx(2.5)
    assert loss(soft_condorcet(["A", "B", "C"], pairs)) < 0.25 * start
