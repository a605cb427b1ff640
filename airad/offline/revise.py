"""The improve and debug operators: one focused change to a parent's CONFIG, or a fix of its error.

Both work on single-model and ensemble CONFIGs; an ensemble is improved one member at a time. A
script without a CONFIG (the user's own) is edited in place by `airad.offline.user_scripts`. A
research program's families to avoid are never switched to.
"""

from __future__ import annotations

import difflib
import random
import re
from collections.abc import Callable

from airad.offline.catalog import FAMILY_NAMES, TREE_CAP, TREE_COUNT, default_params
from airad.offline.drafting import SCALED_FAMILIES, draft
from airad.offline.ensemble import MAX_MEMBERS, as_member, as_single, family_label, is_ensemble, map_members
from airad.offline.knowledge_use import choose_change
from airad.offline.plans import closing_sentence, headline
from airad.offline.program import NO_HINTS, ProgramHints, program_hints
from airad.offline.prompt import METRIC_NAMES, Prompt, TaskFacts
from airad.offline.scripts import read_config, render, valid_config
from airad.offline.user_scripts import debug_script, improve_script

_IMPORTS = {"np": "import numpy as np", "pd": "import pandas as pd", "os": "import os"}


def improve(facts: TaskFacts, prompt: Prompt, rng: random.Random) -> tuple[list[str], str]:
    """The parent's CONFIG with one focused change; a script without one (the user's own) gets one
    focused edit of its estimator; a fresh draft when neither can be read."""
    hints = program_hints(prompt.program)
    config = parent_config(prompt.parent_code)
    if config is None:
        edited = improve_script(prompt, hints, rng)
        if edited is not None:
            return edited
        sentences, code = draft(facts, prompt.attempts, rng, allow_bug=False, hints=hints)
        note = (
            f"The solution to improve ({node_label(prompt.parent_id)}) has no CONFIG I can read, "
            "so this is a fresh draft instead."
        )
        return [note, *sentences[:1], *sentences[-2:]], code
    changes = (
        _ensemble_improvements(config, facts, hints) if is_ensemble(config) else _improvements(config, facts, hints)
    )
    note = ""
    if prompt.knowledge:
        changed, description, note = choose_change([change(config) for change in changes], prompt.knowledge, rng)
    else:
        changed, description = rng.choice(changes)(config)
    score = f", validation score {prompt.parent_score}" if prompt.parent_score else ""
    sentences = [
        f"Improving {node_label(prompt.parent_id)} ({family_label(config)}{score}).",
        f"Change: {description}.",
        *([note] if note else []),
        f"Everything else in CONFIG is kept, so the validation {METRIC_NAMES[changed['metric']]} "
        "shows the effect of this one change.",
        closing_sentence(changed),
    ]
    return sentences, render(changed)


def debug(facts: TaskFacts, prompt: Prompt, rng: random.Random) -> tuple[list[str], str]:
    """Name the error, fix its cause and re-render the parent's CONFIG cleanly (or, for a script
    without one, fix it in place when the cause is clear)."""
    failure = headline(prompt.error)
    hints = program_hints(prompt.program)
    config = parent_config(prompt.parent_code)
    if config is None:
        script = debug_script(prompt, hints)
        if script is not None:
            return script
        sentences, code = draft(facts, prompt.attempts, rng, allow_bug=False, hints=hints)
        note = (
            f"The buggy solution ({node_label(prompt.parent_id)}) failed with: {failure}. "
            "Its script has no CONFIG I can read, "
            "so I rewrote it from scratch as a clean draft."
        )
        return [note, *sentences[:1], sentences[-1]], code
    fixed, cause, fix = diagnose(prompt.error, config, facts, hints)
    family = family_label(fixed)
    sentences = [
        f"The buggy solution ({node_label(prompt.parent_id)}) failed with: {failure}.",
        f"Cause: {cause}; fix: {fix}.",
        f"The modelling idea ({family}) and its CONFIG are unchanged."
        if fixed == config
        else f"Apart from that fix, CONFIG is unchanged (model family: {family}).",
        "The whole script is rewritten cleanly so it reads ./input/, prints the validation metric "
        "and writes submission/submission.csv.",
    ]
    return sentences, render(fixed)


def diagnose(error: str, config: dict, facts: TaskFacts, hints: ProgramHints = NO_HINTS) -> tuple[dict, str, str]:
    """(config to re-render, cause, fix) for an error text: stderr tail and/or harness message."""
    name_error = re.search(r"NameError: name '(\w+)' is not defined", error)
    key_error = re.search(r"KeyError: \[?['\"]([^'\"]+)['\"]", error)
    if name_error:
        name = name_error.group(1)
        fix = f"added '{_IMPORTS[name]}'" if name in _IMPORTS else f"defined '{name}' before its first use"
        return config, f"the script uses '{name}' without importing or defining it", fix
    if key_error:
        wrong = key_error.group(1)
        known = [*(facts.columns or {}), *(facts.label_columns or []), *([facts.id_column] if facts.id_column else [])]
        close = difflib.get_close_matches(wrong, known, n=1, cutoff=0.5)
        right = f"; the column is called '{close[0]}'" if close else ""
        return (
            config,
            f"the script asks for column '{wrong}', which is not in the data{right}",
            "use the column names of the CSV files",
        )
    if re.search(
        r"non-existent directory|(No such file or directory|FileNotFoundError|did not write).*submission", error
    ):
        return (
            config,
            "the script writes submission/submission.csv before creating the folder",
            "call os.makedirs('submission', exist_ok=True) first",
        )
    if re.search(r"submission", error, re.IGNORECASE) and re.search(r"column|rows?\b|\bids?\b", error, re.IGNORECASE):
        fix = (
            "build the submission from test.csv's id column plus the predictions, one row per test row, "
            "in sample_submission.csv's column order"
        )
        return config, "the submission does not match sample_submission.csv", fix
    if re.search(r"time ?out|timed out|TimeoutExpired|Killed|MemoryError|out of memory", error, re.IGNORECASE):
        smaller = map_members(config, _smaller) if is_ensemble(config) else _smaller(config)
        return (
            smaller,
            "the script ran out of time or memory",
            "halved the number of trees and dropped engineered features",
        )
    plain = {"impute": "median", "log_features": False, "interactions": 0}
    safe = map_members(config, lambda c: {**c, **plain}) if is_ensemble(config) else {**config, **plain}
    if safe == config:
        single = as_single(config, config["members"][0]) if is_ensemble(config) else config
        family = (hints.allowed(["random_forest", "extra_trees", "hist_gb", "lightgbm"]) or ["random_forest"])[0]
        safe = {**single, "family": family, "params": default_params(family, config["problem"]), "scale": False}
        fix = f"switched to a plain {FAMILY_NAMES[family]} with median imputation"
        return safe, "the error does not point at one line of the script", fix
    return (
        safe,
        "the error does not point at one line of the script",
        "rewrote it with median imputation and no engineered features",
    )


def parent_config(code: str) -> dict | None:
    """The CONFIG of a parent's script when `render` can use it, else None."""
    config = read_config(code)
    return config if config is not None and valid_config(config) else None


def node_label(node: int | None) -> str:
    """The node as the plan names it (e.g. node 3), or a note that the prompt gave no node id."""
    return f"node {node}" if node is not None else "no node id given"


def _ensemble_improvements(config: dict, facts: TaskFacts, hints: ProgramHints = NO_HINTS) -> list:
    """One member's focused changes, each wrapped to act on the ensemble; or one member more."""
    changes: list[Callable[[dict], tuple[dict, str]]] = []
    members = config["members"]
    has_lightgbm = any(m["family"] == "lightgbm" for m in members)
    for index, member in enumerate(members):
        single = as_single(config, member)
        for change in _improvements(single, facts, hints):
            new, text = change(single)
            if has_lightgbm and new["family"] == "lightgbm" and single["family"] != "lightgbm":
                continue  # a second LightGBM member would add little

            def on_member(c, index=index, new=new, text=text, name=FAMILY_NAMES[single["family"]]):
                updated = [*c["members"][:index], as_member(new), *c["members"][index + 1 :]]
                return {**c, "members": updated}, f"in member {index + 1} ({name}), {text}"

            changes.append(on_member)
    if len(members) < MAX_MEMBERS and not has_lightgbm and "lightgbm" not in hints.avoid:

        def add_lightgbm(c):
            member = {
                "family": "lightgbm",
                "params": default_params("lightgbm", c["problem"]),
                "impute": "median",
                "scale": False,
                "one_hot": False,
                "log_features": False,
                "interactions": 0,
            }
            return {
                **c,
                "members": [*c["members"], member],
            }, "added a LightGBM member with default settings to the average"

        changes.append(add_lightgbm)
    return changes


def _improvements(config: dict, facts: TaskFacts, hints: ProgramHints = NO_HINTS) -> list:
    """The focused changes that apply to this CONFIG, each a function config -> (config, description)."""
    family, params = config["family"], config["params"]
    changes = []
    trees = TREE_COUNT.get(family)
    if trees and params.get(trees, 0) < TREE_CAP[family]:

        def more_trees(c):
            n = min(TREE_CAP[family], params[trees] * 2)
            return _with(c, params={**params, trees: n}), f"raised {trees} from {params[trees]} to {n}"

        changes.append(more_trees)
    if "learning_rate" in params and params["learning_rate"] > 0.02 and trees:

        def slower(c):
            rate, n = round(params["learning_rate"] / 2, 4), min(TREE_CAP[family], params[trees] * 2)
            return _with(
                c, params={**params, "learning_rate": rate, trees: n}
            ), f"halved the learning rate to {rate} with {n} boosting rounds"

        changes.append(slower)
    changes.append(_regularise)
    if not config["log_features"]:
        changes.append(lambda c: (_with(c, log_features=True), "added signed log1p copies of the numeric features"))
    if not config["interactions"]:
        changes.append(
            lambda c: (_with(c, interactions=4), "added pairwise products of the first four numeric features")
        )
    other = "mean" if config["impute"] == "median" else "median"
    changes.append(lambda c: (_with(c, impute=other), f"switched numeric imputation from {c['impute']} to {other}"))
    if facts.has_categoricals and family not in SCALED_FAMILIES:
        encoding = "ordinal" if config["one_hot"] else "one-hot"
        changes.append(lambda c: (_with(c, one_hot=not c["one_hot"]), f"switched categorical encoding to {encoding}"))
    if family != "lightgbm" and "lightgbm" not in hints.avoid:

        def stronger(c):
            new = _with(c, family="lightgbm", params=default_params("lightgbm", c["problem"]), scale=False)
            return new, f"switched the model family from {FAMILY_NAMES[family]} to the stronger LightGBM"

        changes.append(stronger)
    return changes


def _regularise(config: dict) -> tuple[dict, str]:
    """Stronger (or, for k-NN, smoother) regularisation for the family."""
    family, params = config["family"], dict(config["params"])
    if family == "linear" and "C" in params:
        params["C"] = round(params["C"] / 3, 4)
        text = f"lowered C to {params['C']} (stronger L2 penalty)"
    elif family == "linear":
        params["alpha"] = round(params.get("alpha", 1.0) * 3, 4)
        text = f"raised the ridge alpha to {params['alpha']}"
    elif family == "lightgbm":
        params["reg_lambda"] = max(1.0, params.get("reg_lambda", 0.0) * 3)
        text = f"raised reg_lambda to {params['reg_lambda']}"
    elif family == "hist_gb":
        params["l2_regularization"] = max(1.0, params.get("l2_regularization", 0.0) * 3)
        text = f"raised l2_regularization to {params['l2_regularization']}"
    elif family == "knn":
        params["n_neighbors"] = params.get("n_neighbors", 5) + 6
        text = f"raised n_neighbors to {params['n_neighbors']}"
    elif family == "svm":
        params["C"] = round(params.get("C", 1.0) / 3, 4)
        text = f"lowered C to {params['C']} (a smoother margin)"
    else:
        params["min_samples_leaf"] = params.get("min_samples_leaf", 1) + 2
        text = f"raised min_samples_leaf to {params['min_samples_leaf']}"
    return _with(config, params=params), text


def _smaller(config: dict) -> dict:
    """A cheaper single-model CONFIG: half the trees, no engineered features, and no SVM."""
    params, family = dict(config["params"]), config["family"]
    if family in TREE_COUNT:
        params[TREE_COUNT[family]] = max(50, params[TREE_COUNT[family]] // 2)
    if family == "svm":
        family, params = "linear", default_params("linear", config["problem"])
    return _with(config, family=family, params=params, log_features=False, interactions=0)


def _with(config: dict, **changes) -> dict:
    return {**config, **changes}
