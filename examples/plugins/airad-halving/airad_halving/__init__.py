"""airad-halving: an example airad plugin (docs/extending.md).

Two entry points: `POLICY` (group `airad.policies`, kind `successive-halving`) and `SIMPLIFY` (group
`airad.operators`, operator `simplify`, which the policy uses once on its final best node).
"""

from __future__ import annotations

from airad.agents.plugin_api import PolicyPlugin

from airad_halving.policy import SuccessiveHalving, decide_halving
from airad_halving.simplify import SIMPLIFY, TEMPLATE

POLICY = PolicyPlugin(
    params=SuccessiveHalving,
    decide=decide_halving,
    operators=("draft", "improve", "debug", "simplify"),
)

__all__ = ["POLICY", "SIMPLIFY", "TEMPLATE", "SuccessiveHalving", "decide_halving"]
