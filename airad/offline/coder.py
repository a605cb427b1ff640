"""The offline coder's logic: read an operator prompt, answer with a plan and one Python script.

Pure and deterministic: every choice comes from `random.Random` seeded with a hash of the
messages, so the same prompt always gets the same answer.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import random
import re

from airad.offline.plans import closing_sentence, features_sentence, headline, task_sentence
from airad.offline.prompt import METRIC_NAMES, Attempt, Prompt, TaskFacts, parse_prompt, task_facts
from airad.offline.scripts import (
    BUGS,
    FAMILY_NAMES,
    TREE_CAP,
    TREE_COUNT,
    default_params,
    param_grid,
    read_config,
    render,
    valid_config,
)

FAMILIES = tuple(FAMILY_NAMES)
SCALED_FAMILIES = ("linear", "knn", "svm")
SLOW_FAMILIES = ("knn", "svm")  # avoided on large training sets
LARGE_TRAIN_ROWS = 20_000
BUG_RATE = 1 / 3

FAMILY_ALIASES = {
    "linear": r"\blinear model|\blogistic regression|\bridge\b|\blinear regression",
    "random_forest": r"random[- ]forest",
    "extra_trees": r"extra[- ]?trees|extremely randomi[sz]ed",
    "hist_gb": r"hist(ogram)?[- ]?(based )?gradient[- ]?boosting|histgradientboosting",
    "lightgbm": r"lightgbm|\blgbm",
    "knn": r"nearest[- ]neighbou?r|\bknn\b|\bk-nn\b",
    "svm": r"support vector|\bsvm\b|\bsvc\b|\bsvr\b",
}

NOT_A_JOB = (
    "Thank you for the message. I am the offline coder: I answer the prompts of the search "
    "operators (draft, improve or debug a solution), and this message asks for none of them, "
    "so there is no script to write. Please send a prompt with a '# Your job:' section."
)

_IMPORTS = {"np": "import numpy as np", "pd": "import pandas as pd", "os": "import os"}


def answer(messages: list[dict]) -> str:
    """The answer to litellm-style chat messages: a plan, then one ```python block (or prose)."""
    prompt = parse_prompt(_user_text(messages))
    if prompt.job not in ("draft", "improve", "debug"):
        return NOT_A_JOB
    rng = random.Random(prompt_seed(messages))
    facts = task_facts(prompt.task, prompt.data)
    if prompt.job == "draft":
        sentences, code = draft(facts, prompt.attempts, rng, allow_bug=True)
    elif prompt.job == "improve":
        sentences, code = improve(facts, prompt, rng)
    else:
        sentences, code = debug(facts, prompt, rng)
    plan = " ".join(s.replace("```", "'''") for s in sentences)
    return f"{plan}\n\n```python\n{code.rstrip()}\n```\n"


def prompt_seed(messages: list[dict]) -> int:
    """A 64-bit seed from the SHA-256 of the messages' roles and texts."""
    payload = json.dumps([[m.get("role", ""), _content(m)] for m in messages], ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(payload.encode()).digest()[:8], "big")


def tried_families(attempts: list[Attempt]) -> set[str]:
    """Model families named by earlier plans: the `Model family:` phrase, else any alias."""
    tried = set()
    for attempt in attempts:
        stated = re.search(r"model family:\s*([^.\n]+)", attempt.plan, re.IGNORECASE)
        text = stated.group(1) if stated else attempt.plan
        tried |= {family for family, alias in FAMILY_ALIASES.items() if re.search(alias, text, re.IGNORECASE)}
    return tried


def draft(facts: TaskFacts, attempts: list[Attempt], rng: random.Random, allow_bug: bool) -> tuple[list[str], str]:
    """A fresh solution with a family the attempts did not use; about one in three has a bug."""
    tried = tried_families(attempts)
    untried = [f for f in FAMILIES if f not in tried]
    if facts.train_rows and facts.train_rows > LARGE_TRAIN_ROWS:
        untried = [f for f in untried if f not in SLOW_FAMILIES] or untried
    family = rng.choice(untried or list(FAMILIES))
    config = new_config(facts, family, rng)
    sentences = [f"Model family: {FAMILY_NAMES[family]}.", task_sentence(facts)]
    if not untried:
        sentences.append("Every model family has been tried already, so this draft revisits one with other settings.")
    elif tried:
        names = ", ".join(sorted(FAMILY_NAMES[f] for f in tried))
        sentences.append(f"It differs from the earlier drafts, which used {names}.")
    sentences += [features_sentence(config), closing_sentence(config)]
    bugs = [b for b in BUGS if b != "misspelled_column" or facts.label_columns]
    bug = rng.choice(bugs) if allow_bug and rng.random() < BUG_RATE else None
    misspelled = _misspell(facts.label_columns[0], facts) if bug == "misspelled_column" else ""
    return sentences, render(config, bug=bug, misspelled=misspelled)


def new_config(facts: TaskFacts, family: str, rng: random.Random) -> dict:
    """A CONFIG for `family`: hyper-parameters and feature options drawn from `rng`."""
    params = {name: rng.choice(options) for name, options in param_grid(family, facts.problem).items()}
    return {
        "family": family,
        "problem": facts.problem,
        "metric": facts.metric,
        "id_column": facts.id_column,
        "target_columns": facts.target_columns,
        "params": params,
        "impute": rng.choice(["median", "mean"]),
        "scale": family in SCALED_FAMILIES,
        "one_hot": family in SCALED_FAMILIES or rng.random() < 0.5,
        "log_features": rng.random() < 0.25,
        "interactions": rng.choice([0, 0, 0, 4]),
        "valid_size": 0.2,
        "seed": rng.randrange(10_000),
    }


def improve(facts: TaskFacts, prompt: Prompt, rng: random.Random) -> tuple[list[str], str]:
    """The parent's CONFIG with one focused change; a fresh draft when no CONFIG can be read."""
    config = _parent_config(prompt)
    if config is None:
        sentences, code = draft(facts, prompt.attempts, rng, allow_bug=False)
        note = f"The solution to improve ({_node(prompt)}) has no CONFIG I can read, so this is a fresh draft instead."
        return [note, *sentences[:1], *sentences[-2:]], code
    change = rng.choice(_improvements(config, facts))
    config, description = change(config)
    score = f", validation score {prompt.parent_score}" if prompt.parent_score else ""
    sentences = [
        f"Improving {_node(prompt)} ({FAMILY_NAMES[config['family']]}{score}).",
        f"Change: {description}.",
        f"Everything else in CONFIG is kept, so the validation {METRIC_NAMES[config['metric']]} shows the effect of this one change.",
        closing_sentence(config),
    ]
    return sentences, render(config)


def debug(facts: TaskFacts, prompt: Prompt, rng: random.Random) -> tuple[list[str], str]:
    """Name the error, fix its cause and re-render the parent's CONFIG cleanly."""
    failure = headline(prompt.error)
    config = _parent_config(prompt)
    if config is None:
        sentences, code = draft(facts, prompt.attempts, rng, allow_bug=False)
        note = (
            f"The buggy solution ({_node(prompt)}) failed with: {failure}. Its script has no CONFIG I can read, "
            "so I rewrote it from scratch as a clean draft."
        )
        return [note, *sentences[:1], sentences[-1]], code
    fixed, cause, fix = diagnose(prompt.error, config, facts)
    family = FAMILY_NAMES[fixed["family"]]
    sentences = [
        f"The buggy solution ({_node(prompt)}) failed with: {failure}.",
        f"Cause: {cause}; fix: {fix}.",
        f"The modelling idea ({family}) and its CONFIG are unchanged." if fixed == config else f"Apart from that fix, CONFIG is unchanged (model family: {family}).",
        "The whole script is rewritten cleanly so it reads ./input/, prints the validation metric and writes submission/submission.csv.",
    ]
    return sentences, render(fixed)


def diagnose(error: str, config: dict, facts: TaskFacts) -> tuple[dict, str, str]:
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
        return config, f"the script asks for column '{wrong}', which is not in the data{right}", "use the column names of the CSV files"
    if re.search(r"non-existent directory|(No such file or directory|FileNotFoundError|did not write).*submission", error):
        return config, "the script writes submission/submission.csv before creating the folder", "call os.makedirs('submission', exist_ok=True) first"
    if re.search(r"submission", error, re.IGNORECASE) and re.search(r"column|rows?\b|\bids?\b", error, re.IGNORECASE):
        fix = "build the submission from test.csv's id column plus the predictions, one row per test row, in sample_submission.csv's column order"
        return config, "the submission does not match sample_submission.csv", fix
    if re.search(r"time ?out|timed out|TimeoutExpired|Killed|MemoryError|out of memory", error, re.IGNORECASE):
        return _smaller(config), "the script ran out of time or memory", "halved the number of trees and dropped engineered features"
    safe = {**config, "impute": "median", "log_features": False, "interactions": 0}
    if safe == config:
        safe = {**safe, "family": "random_forest", "params": default_params("random_forest", config["problem"]), "scale": False}
        return safe, "the error does not point at one line of the script", "switched to a plain random forest with median imputation"
    return safe, "the error does not point at one line of the script", "rewrote it with median imputation and no engineered features"


def _improvements(config: dict, facts: TaskFacts) -> list:
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
            return _with(c, params={**params, "learning_rate": rate, trees: n}), f"halved the learning rate to {rate} with {n} boosting rounds"
        changes.append(slower)
    changes.append(_regularise)
    if not config["log_features"]:
        changes.append(lambda c: (_with(c, log_features=True), "added signed log1p copies of the numeric features"))
    if not config["interactions"]:
        changes.append(lambda c: (_with(c, interactions=4), "added pairwise products of the first four numeric features"))
    other = "mean" if config["impute"] == "median" else "median"
    changes.append(lambda c: (_with(c, impute=other), f"switched numeric imputation from {c['impute']} to {other}"))
    if facts.has_categoricals and family not in SCALED_FAMILIES:
        encoding = "ordinal" if config["one_hot"] else "one-hot"
        changes.append(lambda c: (_with(c, one_hot=not c["one_hot"]), f"switched categorical encoding to {encoding}"))
    if family != "lightgbm":
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
    """A cheaper CONFIG: half the trees, no engineered features, and no SVM."""
    params, family = dict(config["params"]), config["family"]
    if family in TREE_COUNT:
        params[TREE_COUNT[family]] = max(50, params[TREE_COUNT[family]] // 2)
    if family == "svm":
        family, params = "linear", default_params("linear", config["problem"])
    return _with(config, family=family, params=params, log_features=False, interactions=0)


def _parent_config(prompt: Prompt) -> dict | None:
    config = read_config(prompt.parent_code)
    return config if config is not None and valid_config(config) else None


def _node(prompt: Prompt) -> str:
    return f"node {prompt.parent_id}" if prompt.parent_id is not None else "no node id given"


def _with(config: dict, **changes) -> dict:
    return {**config, **changes}


def _misspell(name: str, facts: TaskFacts) -> str:
    """A plausible typo of a column name: two middle letters swapped, or an added 's'."""
    middle = len(name) // 2
    typo = name[: middle - 1] + name[middle] + name[middle - 1] + name[middle + 1 :] if len(name) >= 4 else name + "s"
    if typo == name:
        typo = name + "s"
    while typo in facts.columns or typo == facts.id_column:
        typo += "_"
    return typo


def _user_text(messages: list[dict]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    return _content(users[-1]) if users else ""


def _content(message: dict) -> str:
    """A message's text, whether its content is a string or a list of parts."""
    content = message.get("content") or ""
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
