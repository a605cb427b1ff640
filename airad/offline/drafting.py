"""The draft operator: a fresh solution with a model family the earlier attempts did not use."""

from __future__ import annotations

import random
import re

from airad.offline.catalog import BUGS, FAMILY_ALIASES, FAMILY_NAMES, param_grid
from airad.offline.knowledge_use import apply_to_draft, choose_family
from airad.offline.plans import closing_sentence, features_sentence, task_sentence
from airad.offline.program import NO_HINTS, ProgramHints
from airad.offline.prompt import Attempt, KnownAtom, TaskFacts
from airad.offline.scripts import render

FAMILIES = tuple(FAMILY_NAMES)
SCALED_FAMILIES = ("linear", "knn", "svm")
SLOW_FAMILIES = ("knn", "svm")  # avoided on large training sets
LARGE_TRAIN_ROWS = 20_000
BUG_RATE = 1 / 3


def tried_families(attempts: list[Attempt]) -> set[str]:
    """Model families named by earlier plans: the `Model family:` phrase, else any alias."""
    tried = set()
    for attempt in attempts:
        stated = re.search(r"model family:\s*([^.\n]+)", attempt.plan, re.IGNORECASE)
        text = stated.group(1) if stated else attempt.plan
        tried |= {family for family, alias in FAMILY_ALIASES.items() if re.search(alias, text, re.IGNORECASE)}
    return tried


def draft(
    facts: TaskFacts,
    attempts: list[Attempt],
    rng: random.Random,
    allow_bug: bool,
    hints: ProgramHints = NO_HINTS,
    knowledge: list[KnownAtom] | None = None,
) -> tuple[list[str], str]:
    """A fresh solution with a family the attempts did not use; about one in three has a bug.
    A research program's families to avoid are never drafted, and its families to try come first;
    otherwise, with `knowledge` from earlier runs, it takes the family and feature options that helped."""
    tried = tried_families(attempts)
    allowed = hints.allowed(FAMILIES) or list(FAMILIES)
    untried = [f for f in allowed if f not in tried]
    if facts.train_rows and facts.train_rows > LARGE_TRAIN_ROWS:
        untried = [f for f in untried if f not in SLOW_FAMILIES] or untried
    notes = [hints.note()] if hints.note() else []
    wanted = [f for f in hints.try_first if f in untried]
    if wanted:
        family = wanted[0]
        config = new_config(facts, family, rng)
    elif knowledge:
        family, note = choose_family(untried, allowed, knowledge, rng)
        config = new_config(facts, family, rng)
        config, features_note = apply_to_draft(config, knowledge, family in SCALED_FAMILIES)
        notes += [n for n in (note, features_note) if n]
    else:
        family = rng.choice(untried or allowed)
        config = new_config(facts, family, rng)
    sentences = [f"Model family: {FAMILY_NAMES[family]}.", task_sentence(facts), *notes]
    if not untried:
        sentences.append("Every model family has been tried already, so this draft revisits one with other settings.")
    elif tried:
        names = ", ".join(sorted(FAMILY_NAMES[f] for f in tried))
        sentences.append(f"It differs from the earlier drafts, which used {names}.")
    sentences += [features_sentence(config), closing_sentence(config)]
    bugs = [b for b in BUGS if b != "misspelled_column" or facts.label_columns]
    bug = rng.choice(bugs) if allow_bug and rng.random() < BUG_RATE else None
    misspelled = _misspell(facts.label_columns[0], facts) if bug == "misspelled_column" and facts.label_columns else ""
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


def _misspell(name: str, facts: TaskFacts) -> str:
    """A plausible typo of a column name: two middle letters swapped, or an added 's'."""
    middle = len(name) // 2
    typo = name[: middle - 1] + name[middle] + name[middle - 1] + name[middle + 1 :] if len(name) >= 4 else name + "s"
    if typo == name:
        typo = name + "s"
    while typo in facts.columns or typo == facts.id_column:
        typo += "_"
    return typo
