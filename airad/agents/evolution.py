"""Island-model evolutionary search (FunSearch-style), derived from the view at every decision.

Drafts seed the islands round-robin; a child lives on its first parent's island. Walking the
finished nodes in id order, a valid draft joins its island, a valid child joins if its fitness is
at least the island's mean, and an island over `max_island_size` drops its worst member. After every
`migration_interval`-th generation the best member of each island is copied to the next one.
Parents are drawn by a softmax over normalised fitness whose temperature cools each generation;
after the warm-up, a pair is crossed over with probability `crossover_prob`, else one parent is
improved (the mutation).
"""

from __future__ import annotations

import math
import random

from airad.agents.greedy import debuggable_leaves
from airad.agents.policy_view import PolicyView
from airad.schemas.events import Operator
from airad.schemas.policies import EvolutionaryPolicy


def islands_of(params: EvolutionaryPolicy, view: PolicyView) -> dict[int, int]:
    """The island of every node."""
    island: dict[int, int] = {}
    drafts = 0
    for node in view.nodes:
        if node.parent_ids:
            island[node.id] = island[node.parent_ids[0]]
        else:
            island[node.id] = drafts % params.num_islands
            drafts += 1
    return island


def generation(params: EvolutionaryPolicy, offspring: int) -> int:
    """Completed generations after `offspring` non-draft nodes."""
    return offspring // (params.individuals_per_generation * params.num_islands)


def populations(params: EvolutionaryPolicy, view: PolicyView) -> list[list[int]]:
    """The members of each island after every finished node has been considered for admission."""
    fitness = view.fitness()
    island = islands_of(params, view)
    members: list[list[int]] = [[] for _ in range(params.num_islands)]
    offspring = 0
    per_generation = params.individuals_per_generation * params.num_islands
    for node in view.nodes:
        if node.id in fitness:
            _admit(members[island[node.id]], node.id, bool(node.parent_ids), fitness, params.max_island_size)
        if node.parent_ids:
            offspring += 1
            if params.migration_interval and offspring % per_generation == 0:
                if generation(params, offspring) % params.migration_interval == 0:
                    _migrate(members, fitness)
    return members


def _admit(home: list[int], node_id: int, is_offspring: bool, fitness: dict[int, float], cap: int) -> None:
    if is_offspring and home and fitness[node_id] < sum(fitness[m] for m in home) / len(home):
        return
    home.append(node_id)
    if len(home) > cap:
        home.remove(min(home, key=lambda m: (fitness[m], -m)))


def _migrate(members: list[list[int]], fitness: dict[int, float]) -> None:
    if len(members) < 2:
        return
    bests = [max(m, key=lambda n: (fitness[n], -n)) if m else None for m in members]
    for i, best in enumerate(bests):
        target = members[(i + 1) % len(members)]
        if best is not None and best not in target:
            target.append(best)


def softmax_pick(ids: list[int], fitness: dict[int, float], temperature: float, rng: random.Random) -> int:
    """Draw one id with probability proportional to exp(fitness / temperature)."""
    top = max(fitness[i] for i in ids)
    weights = [math.exp((fitness[i] - top) / temperature) for i in ids]
    return rng.choices(ids, weights=weights, k=1)[0]


def decide_evolution(
    params: EvolutionaryPolicy, view: PolicyView, rng: random.Random
) -> tuple[Operator, tuple[int, ...]]:
    """One evolutionary decision as (operator, parent ids)."""
    island = islands_of(params, view)
    drafts = [n for n in view.nodes if not n.parent_ids]
    if len(drafts) < params.individuals_per_generation * params.num_islands and not view.baseline:
        return "draft", ()  # a run from the user's script seeds island 0 with it instead
    if rng.random() < params.debug_prob:
        debuggable = debuggable_leaves(view, params.max_debug_depth)
        if debuggable:
            return "debug", (rng.choice(debuggable).id,)
    offspring = [n for n in view.nodes if n.parent_ids]
    per_island = [sum(1 for n in offspring if island[n.id] == i) for i in range(params.num_islands)]
    members = populations(params, view)
    order = sorted(range(params.num_islands), key=lambda i: (per_island[i], i))
    target = next((i for i in order if members[i]), None)
    if target is None:
        return "draft", ()
    fitness = view.fitness()
    generations = generation(params, len(offspring))
    temperature = max(params.min_temperature, params.initial_temperature * params.temperature_decay**generations)
    pool = list(members[target])
    if generations >= params.crossover_warmup_generations and len(pool) >= 2 and rng.random() < params.crossover_prob:
        first = softmax_pick(pool, fitness, temperature, rng)
        pool.remove(first)
        second = softmax_pick(pool, fitness, temperature, rng)
        return "crossover", (first, second)
    return "improve", (softmax_pick(pool, fitness, temperature, rng),)
