from airad.agents.evolution import decide_evolution, islands_of, populations
from airad.agents.policy import decision_rng
from airad.agents.policy_view import policy_view
from airad.events.fold import fold
from airad.schemas.policies import EvolutionaryPolicy
from tests.factories import History


def _view(h):
    return policy_view(fold(h.events))


def _decide(h, seed=0, **params):
    view = _view(h)
    return decide_evolution(EvolutionaryPolicy(**params), view, decision_rng(seed, view.decisions))


def test_initial_population_is_drafted_round_robin_over_islands():
    params = dict(num_islands=2, individuals_per_generation=2)
    h = History()
    for i in range(4):
        assert _decide(h, **params) == ("draft", ())
        h.node(i, "draft", score=0.5 + i / 10)
    assert islands_of(EvolutionaryPolicy(**params), _view(h)) == {0: 0, 1: 1, 2: 0, 3: 1}
    operator, parents = _decide(h, debug_prob=0.0, **params)
    assert operator == "improve" and parents[0] in (0, 2)


def test_admission_at_the_island_mean_and_size_cap():
    h = History().node(0, "draft", score=0.2).node(1, "draft", score=0.8)
    h.node(2, "improve", (1,), score=0.3).node(3, "improve", (1,), score=0.9)
    params = EvolutionaryPolicy(individuals_per_generation=2)
    assert populations(params, _view(h)) == [[0, 1, 3]]
    capped = EvolutionaryPolicy(individuals_per_generation=2, max_island_size=2)
    assert populations(capped, _view(h)) == [[1, 3]]


def test_crossover_only_after_the_warm_up():
    h = History().node(0, "draft", score=0.5).node(1, "draft", score=0.6)
    params = dict(individuals_per_generation=2, crossover_prob=1.0, crossover_warmup_generations=1, debug_prob=0.0)
    assert _decide(h, **params)[0] == "improve"
    h.node(2, "improve", (0,), score=0.7).node(3, "improve", (1,), score=0.8)
    operator, parents = _decide(h, **params)
    assert operator == "crossover" and len(set(parents)) == 2


def test_cold_temperature_picks_the_fittest():
    h = History().node(0, "draft", score=0.1).node(1, "draft", score=0.9).node(2, "draft", score=0.5)
    picks = {_decide(h, seed=s, individuals_per_generation=3, initial_temperature=0.001, debug_prob=0.0, crossover_prob=0.0)
             for s in range(10)}
    assert picks == {("improve", (1,))}
    warm = {_decide(h, seed=s, individuals_per_generation=3, initial_temperature=100.0, debug_prob=0.0, crossover_prob=0.0)
            for s in range(30)}
    assert len(warm) > 1


def test_migration_copies_each_islands_best_to_the_next():
    h = History().node(0, "draft", score=0.9).node(1, "draft", score=0.1)
    h.node(2, "improve", (0,), score=0.95).node(3, "improve", (1,), score=0.2)
    params = EvolutionaryPolicy(num_islands=2, individuals_per_generation=1, migration_interval=1)
    island0, island1 = populations(params, _view(h))
    assert island0 == [0, 2, 3] and island1 == [1, 3, 2]
    no_migration = EvolutionaryPolicy(num_islands=2, individuals_per_generation=1)
    assert populations(no_migration, _view(h)) == [[0, 2], [1, 3]]


def test_buggy_offspring_are_debugged_within_depth():
    h = History().node(0, "draft", score=0.5).node(1, "improve", (0,), score=None, exit_code=1)
    assert _decide(h, individuals_per_generation=1, debug_prob=1.0) == ("debug", (1,))
    assert _decide(h, individuals_per_generation=1, debug_prob=1.0, max_debug_depth=0)[0] == "improve"
