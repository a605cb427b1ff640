"""The execution cache: a node whose script is the same, after normalisation, as an earlier node's of
the same run (so the same task view, executor and resources) reuses that node's result instead of
running again. The reuse is recorded: its `node.executed` names the node it came from
(`cached_from`), with the same outputs and a duration of 0. `executor.cache = false` turns it off."""

from __future__ import annotations

from airad.agents.script_key import script_key
from airad.events.fold import Node, RunState


def earlier_run_of(state: RunState, node: Node) -> Node | None:
    """The first earlier node of the run whose identical script ran to a result (not itself a reuse),
    or None."""
    key = script_key(node.code)
    for earlier in state.nodes[: node.id]:
        if earlier.duration_s is not None and earlier.cached_from is None and earlier.code:
            if script_key(earlier.code) == key:
                return earlier
    return None
