"""Bradley–Terry by MM iterations, on cases small enough to check by hand."""

import pytest

from airad.reports.ranking import METHOD, bradley_terry, pairwise_wins, rank_solvers


def test_two_solvers_strength_ratio_is_wins_with_the_virtual_tie():
    # A beats B in 3 contests of 4. With one virtual tie: A has 3.5 wins, B 1.5, so p_A / p_B = 7/3;
    # scaled to a mean of 1: 1.4 and 0.6.
    ranking = rank_solvers(["A", "B"], [{"A": 1.0, "B": 0.0}] * 3 + [{"A": 0.0, "B": 1.0}])
    a, b = ranking.solvers
    assert (a.solver, a.rank, b.solver, b.rank) == ("A", 1, "B", 2)
    assert a.strength == pytest.approx(1.4) and b.strength == pytest.approx(0.6)
    assert (a.wins, a.comparisons, b.wins, b.comparisons) == (3.0, 4, 1.0, 4)
    assert ranking.method == METHOD and "Bradley–Terry" in ranking.method and ranking.contests == 4


def test_a_cycle_is_a_three_way_tie():
    ranking = rank_solvers(["A", "B", "C"], [{"A": 1, "B": 0}, {"B": 1, "C": 0}, {"C": 1, "A": 0}])
    assert [s.rank for s in ranking.solvers] == [1, 1, 1]
    assert all(s.strength == pytest.approx(1.0) for s in ranking.solvers)


def test_ties_count_half_and_no_score_loses_to_any_score():
    wins = pairwise_wins([{"A": 0.5, "B": 0.5, "C": None}, {"C": None, "D": None}])
    assert wins[("A", "B")] == wins[("B", "A")] == 0.5
    assert wins[("A", "C")] == 1.0 and wins[("C", "A")] == 0.0
    assert wins[("C", "D")] == wins[("D", "C")] == 0.5


def test_a_missing_run_removes_comparisons_not_the_solver():
    # C has no run in the second contest: it is compared only where it ran, and never charged a loss.
    contests = [{"A": 3.0, "B": 1.0, "C": 2.0}, {"A": 3.0, "B": 1.0}]
    ranking = rank_solvers(["A", "B", "C"], contests)
    by_name = {s.solver: s for s in ranking.solvers}
    assert [s.solver for s in ranking.solvers] == ["A", "C", "B"]
    assert by_name["C"].comparisons == 2 and by_name["C"].wins == 1.0
    assert by_name["A"].comparisons == 3 and by_name["B"].comparisons == 3


def test_a_solver_with_no_result_anywhere_is_listed_unranked():
    ranking = rank_solvers(["A", "B", "ghost"], [{"A": 1.0, "B": 0.0}])
    ghost = ranking.solvers[-1]
    assert (ghost.solver, ghost.rank, ghost.strength, ghost.comparisons) == ("ghost", None, None, 0)


def test_one_solver_alone_is_unranked_and_nothing_breaks():
    ranking = rank_solvers(["A"], [{"A": 1.0}])
    assert ranking.solvers[0].rank is None and ranking.contests == 0


def test_the_fit_solves_the_likelihood_equations():
    # At the maximum, each solver's wins equal its expected wins: W_i = sum_j n_ij p_i / (p_i + p_j).
    wins = {("A", "B"): 2.5, ("B", "A"): 0.5, ("A", "C"): 1.5, ("C", "A"): 0.5, ("B", "C"): 0.5, ("C", "B"): 1.5}
    p = bradley_terry(["A", "B", "C"], wins)
    for i in "ABC":
        expected = sum((wins[(i, j)] + wins[(j, i)]) * p[i] / (p[i] + p[j]) for j in "ABC" if j != i)
        assert expected == pytest.approx(sum(wins[(i, j)] for j in "ABC" if j != i), rel=1e-6)
    assert sum(p.values()) == pytest.approx(3.0)
