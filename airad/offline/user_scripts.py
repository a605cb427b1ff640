"""The improve and debug operators on scripts without a CONFIG (the user's own train.py and what
the search made of it): one focused edit of the script's estimator, as the research program asks.

Improve switches the model family (to the program's next family to try, else to one no attempt
has used) or doubles a tree ensemble's trees; a family the script uses that the offline coder does
not write (a decision tree, naive Bayes) or that the program avoids is always switched. Debug adds
a missing import, or replaces a model whose library fails with a plain tree ensemble.
"""

from __future__ import annotations

import random
import re

from airad.offline.catalog import FAMILY_NAMES, TREE_COUNT
from airad.offline.drafting import FAMILIES, tried_families
from airad.offline.edits import (
    ESTIMATORS,
    KNOWN_IMPORTS,
    EstimatorCall,
    add_imports,
    find_estimator,
    more_trees,
    swap_estimator,
)
from airad.offline.plans import headline
from airad.offline.program import ProgramHints
from airad.offline.prompt import Prompt

PLAIN_FAMILIES = ("random_forest", "extra_trees", "hist_gb", "lightgbm", "linear")
SHOWN_CHARS = 90
KEPT = (
    "Everything else (data loading, the evaluation and the metric file it writes) is kept as written, "
    "so the score shows the effect of this one change."
)


def improve_script(prompt: Prompt, hints: ProgramHints, rng: random.Random) -> tuple[list[str], str] | None:
    """One focused change to the parent script's estimator; None when it has no estimator to edit."""
    code = prompt.parent_code
    call = find_estimator(code)
    if call is None:
        return None
    allowed = hints.allowed(FAMILIES)
    tried = tried_families(prompt.attempts) | {call.family}
    fresh = [f for f in allowed if f not in tried]
    wanted = [f for f in hints.try_first if f in fresh]
    must_switch = call.family not in FAMILY_NAMES or call.family in hints.avoid
    bigger = more_trees(call)
    if wanted or must_switch or not bigger or (fresh and rng.random() < 0.5):
        family = (
            wanted[0] if wanted else rng.choice(fresh or [f for f in allowed if f != call.family] or ["random_forest"])
        )
        new_code, expression = swap_estimator(code, call, family)
        change = (
            f"replaced `{_shown(code[call.start : call.end])}` with `{_shown(expression)}`, "
            f"{_why(call, family, wanted, hints)}"
        )
    else:
        family = call.family
        new_code, expression = swap_estimator(code, call, family, bigger)
        key = TREE_COUNT[family]
        change = f"raised {key} of the {call.label} from {call.params.get(key, 'its default')} to {bigger[key]}"
    score = f", validation score {prompt.parent_score}" if prompt.parent_score else ""
    sentences = [
        f"Model family: {FAMILY_NAMES[family]}.",
        f"Improving {_node(prompt)} (its model: {call.label}{score}) with one focused change to that model.",
        f"Change: {change}.",
    ]
    if hints.note():
        sentences.append(hints.note())
    return [*sentences, KEPT], new_code


def debug_script(prompt: Prompt, hints: ProgramHints) -> tuple[list[str], str] | None:
    """Fix the parent script's error when it is a missing import or a failing model; else None."""
    code = prompt.parent_code
    failure = headline(prompt.error)
    name_error = re.search(r"NameError: name '(\w+)' is not defined", prompt.error)
    missing = _import_line(name_error.group(1)) if name_error else None
    if name_error and missing:
        name = name_error.group(1)
        try:
            fixed = add_imports(code, [missing])
        except SyntaxError:
            return None
        cause = f"the script uses '{name}' without importing it; fix: added '{missing}'"
        return _debug_plan(prompt, failure, cause, find_estimator(fixed)), fixed
    call = find_estimator(code)
    if call is None:
        return None
    plain = next((f for f in hints.allowed(PLAIN_FAMILIES) if f != call.family), None)
    if plain is None:
        return None
    fixed, expression = swap_estimator(code, call, plain)
    if re.search(r"ModuleNotFoundError|ImportError|No module named", prompt.error):
        cause = f"the {call.label}'s library cannot be imported here; fix: replaced it with `{_shown(expression)}`"
    else:
        cause = (
            "the error does not point at one line, and the model is what the search changed; "
            f"fix: replaced `{_shown(code[call.start : call.end])}` with a plain `{_shown(expression)}`"
        )
    return _debug_plan(prompt, failure, cause, find_estimator(fixed)), fixed


def _debug_plan(prompt: Prompt, failure: str, cause: str, call: EstimatorCall | None) -> list[str]:
    family = (
        f"Model family: {FAMILY_NAMES.get(call.family) or call.label}." if call else "The script's model is unchanged."
    )
    return [
        family,
        f"The buggy solution ({_node(prompt)}) failed with: {failure}.",
        f"Cause: {cause}.",
        "Every other line of the script is kept as written.",
    ]


def _import_line(name: str) -> str | None:
    if name in KNOWN_IMPORTS:
        return KNOWN_IMPORTS[name]
    if name in ESTIMATORS:
        module = "lightgbm" if name.startswith("LGBM") else _SKLEARN_MODULES.get(ESTIMATORS[name][0], "")
        return f"from {module} import {name}" if module else None
    return None


_SKLEARN_MODULES = {
    "linear": "sklearn.linear_model",
    "random_forest": "sklearn.ensemble",
    "extra_trees": "sklearn.ensemble",
    "hist_gb": "sklearn.ensemble",
    "gradient_boosting": "sklearn.ensemble",
    "knn": "sklearn.neighbors",
    "svm": "sklearn.svm",
    "decision_tree": "sklearn.tree",
    "naive_bayes": "sklearn.naive_bayes",
    "dummy": "sklearn.dummy",
}


def _why(call: EstimatorCall, family: str, wanted: list[str], hints: ProgramHints) -> str:
    if wanted:
        return "the next model family the research program asks to try"
    if call.family in hints.avoid:
        return f"because the research program asks to avoid {call.label}"
    if call.family not in FAMILY_NAMES:
        return f"a stronger model family than a {call.label}"
    return "a model family no earlier attempt has used"


def _node(prompt: Prompt) -> str:
    return f"node {prompt.parent_id}" if prompt.parent_id is not None else "the solution shown"


def _shown(source: str) -> str:
    text = " ".join(source.split())
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."
