"""Property tests: whatever happens to a run's nodes, decisions only refer to nodes that exist and
can take the operator, and the best validation fitness never gets worse as events are appended."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airad.agents.policy import decide
from airad.agents.policy_view import policy_view
from airad.events.fold import RunState, evolve
from airad.schemas.events import (
    NodeExecuted,
    NodeFailed,
    NodeGenerated,
    NodeScored,
    NodeSelected,
    NodeTested,
    RunSubmitted,
)
from airad.schemas.policies import AiraGreedyPolicy, EvolutionaryPolicy, GreedyPolicy, MctsPolicy
from airad.schemas.request import BundledTask, RunRequest

policies = st.one_of(
    st.builds(GreedyPolicy, num_drafts=st.integers(1, 4), debug_prob=st.floats(0, 1), max_debug_depth=st.integers(0, 3)),
    st.builds(AiraGreedyPolicy, num_drafts=st.integers(1, 4), max_debug_depth=st.integers(0, 3)),
    st.builds(MctsPolicy, uct_c=st.floats(0, 3), num_children=st.integers(1, 4), max_debug_depth=st.integers(0, 3),
              max_debug_seconds=st.floats(0.5, 10)),
    st.builds(EvolutionaryPolicy, num_islands=st.integers(1, 3), individuals_per_generation=st.integers(1, 3),
              crossover_prob=st.floats(0, 1), crossover_warmup_generations=st.integers(0, 2),
              initial_temperature=st.floats(0.01, 5), temperature_decay=st.floats(0.5, 1),
              max_island_size=st.integers(1, 5), migration_interval=st.integers(0, 2), debug_prob=st.floats(0, 1),
              max_debug_depth=st.integers(0, 3)),
)


class Run:
    def __init__(self, request: RunRequest):
        self.state = RunState("p")
        self.best_so_far: list[float | None] = []
        self.append(RunSubmitted, request=request)

    def append(self, event_type, **fields):
        event = event_type(run_id="p", seq=self.state.last_seq + 1, at=float(self.state.last_seq), **fields)
        self.state = evolve(self.state, event)
        best = self.state.best_node()
        self.best_so_far.append(best.score if best else None)

    def finish(self, node_id: int, outcome: str, score: float):
        self.append(NodeGenerated, node_id=node_id, plan="p", code="c", model="m", prompt_ref="", completion_ref="")
        if outcome == "failed":
            self.append(NodeFailed, node_id=node_id, stage="execute", reason="lost")
            return
        self.append(NodeExecuted, node_id=node_id, exit_code=0 if outcome == "valid" else 1, duration_s=score)
        self.append(NodeScored, node_id=node_id, metric="m", lower_is_better=self.lower, valid=outcome == "valid",
                    score=score if outcome == "valid" else None)
        self.append(NodeTested, node_id=node_id, score=1 - score)


def _check_action(state: RunState, operator: str, parents: tuple[int, ...]):
    nodes = state.nodes
    assert all(0 <= p < len(nodes) and nodes[p].done for p in parents), (operator, parents)
    expected = {"draft": 0, "improve": 1, "debug": 1, "crossover": 2}[operator]
    assert len(parents) == expected and len(set(parents)) == expected
    if operator == "debug":
        assert nodes[parents[0]].buggy
    if operator in ("improve", "crossover"):
        assert all(not nodes[p].buggy for p in parents)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies, lower=st.booleans(), seed=st.integers(0, 1000), data=st.data())
def test_decisions_are_sound_and_best_fitness_never_worsens(policy, lower, seed, data):
    run = Run(RunRequest(task=BundledTask(name="wine"), policy=policy, seed=seed))
    run.lower = lower
    pending: list[int] = []
    for _ in range(data.draw(st.integers(1, 25), label="steps")):
        if pending and (len(pending) >= 3 or data.draw(st.booleans(), label="finish")):
            node_id = pending.pop(data.draw(st.integers(0, len(pending) - 1), label="which"))
            outcome = data.draw(st.sampled_from(["valid", "valid", "buggy", "failed"]), label="outcome")
            run.finish(node_id, outcome, data.draw(st.floats(0, 1), label="score"))
            continue
        action = decide(policy, policy_view(run.state), seed)
        _check_action(run.state, action.operator, action.parent_ids)
        node_id = len(run.state.nodes)
        run.append(NodeSelected, node_id=node_id, operator=action.operator, parent_ids=action.parent_ids)
        pending.append(node_id)
    scores = [s for s in run.best_so_far if s is not None]
    for earlier, later in zip(scores, scores[1:]):
        assert (later <= earlier) if lower else (later >= earlier)
