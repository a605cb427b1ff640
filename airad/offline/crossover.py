"""The crossover operator: combine two parents' CONFIGs into one child.

Parents of different families (or any ensemble parent) become an ensemble whose members are the
parents' models, interleaved A, B, A, B and capped at `MAX_MEMBERS`; the script averages their
predictions. Two single models of the same family instead merge their feature engineering into the
better parent (or, when their features already agree, are averaged as a two-member ensemble).
When a parent has no readable CONFIG, the other parent is improved instead (when neither has, the
first whose estimator can be edited, e.g. a child of the user's own script).
"""

from __future__ import annotations

import dataclasses
import math
import random

from airad.offline.catalog import FAMILY_NAMES
from airad.offline.drafting import draft
from airad.offline.edits import find_estimator
from airad.offline.ensemble import MAX_MEMBERS, family_label, is_ensemble, make_ensemble, members_of
from airad.offline.plans import closing_sentence, features_sentence
from airad.offline.program import program_hints
from airad.offline.prompt import LOWER_IS_BETTER, Parent, Prompt, TaskFacts
from airad.offline.revise import improve, node_label, parent_config
from airad.offline.scripts import render

_AVERAGED = {
    "roc_auc": "predicted class probabilities",
    "log_loss": "predicted class probabilities",
    "accuracy": "predicted class probabilities and submits the most probable class",
}


def crossover(facts: TaskFacts, prompt: Prompt, rng: random.Random) -> tuple[list[str], str]:
    """A child combining parents A and B; see the module docstring for how."""
    parents = prompt.parents[:2]
    configs = [parent_config(p.code) for p in parents]
    readable = [c for c in configs if c is not None]
    if len(parents) < 2 or len(readable) < len(configs):
        return _fallback(facts, prompt, parents, configs, rng)
    (a, b), (config_a, config_b) = parents, readable
    better = _better(facts, a, b)
    intro = f"Crossover of {_describe(a, config_a)} and {_describe(b, config_b)}."
    same_family = not is_ensemble(config_a) and not is_ensemble(config_b) and config_a["family"] == config_b["family"]
    if same_family:
        best, other = (config_a, config_b) if better is a else (config_b, config_a)
        merged = {
            **best,
            "log_features": best["log_features"] or other["log_features"],
            "interactions": max(best["interactions"], other["interactions"]),
        }
        if merged != best:
            sentences = [
                intro,
                f"Model family: {FAMILY_NAMES[best['family']]}.",
                f"Both parents use {FAMILY_NAMES[best['family']]}, "
                "so rather than averaging two similar models this child "
                f"merges their feature engineering into the better parent ({node_label(better.node)}) "
                "and keeps its hyper-parameters.",
                features_sentence(merged),
                closing_sentence(merged),
            ]
            return sentences, render(merged)
    members, dropped = _combine(members_of(config_a), members_of(config_b))
    if members in (members_of(config_a), members_of(config_b)):
        note = (
            "The two parents hold the same models, so there is nothing new to combine; "
            f"instead this improves the better parent, {node_label(better.node)}."
        )
        return _improve_one(facts, prompt, better, rng, note)
    child = make_ensemble(config_a, members)
    sentences = [
        intro,
        f"Model family: {family_label(child)}.",
        "Each member keeps its parent's hyper-parameters and feature preparation; "
        "the script fits every member on the same "
        f"training rows and averages their {_AVERAGED.get(child['metric'], 'predictions')}, "
        "which usually beats either model "
        "alone because their errors differ.",
    ]
    if dropped:
        sentences.append(f"To bound the run time only {MAX_MEMBERS} members are kept ({dropped} dropped).")
    sentences.append(closing_sentence(child))
    return sentences, render(child)


def _combine(first: list[dict], second: list[dict]) -> tuple[list[dict], int]:
    """Members interleaved (first, second, first, ...), duplicates removed, capped; and how many were dropped."""
    interleaved = []
    for k in range(max(len(first), len(second))):
        interleaved += [group[k] for group in (first, second) if k < len(group)]
    unique = []
    for member in interleaved:
        if member not in unique:
            unique.append(member)
    return unique[:MAX_MEMBERS], max(0, len(unique) - MAX_MEMBERS)


def _fallback(
    facts: TaskFacts, prompt: Prompt, parents: list[Parent], configs: list, rng: random.Random
) -> tuple[list[str], str]:
    """Improve the one parent with a readable CONFIG, or draft afresh when neither has one."""
    readable = [p for p, c in zip(parents, configs, strict=False) if c is not None]
    unreadable = [
        f"Parent solution {'AB'[i]} ({node_label(p.node)})"
        for i, (p, c) in enumerate(zip(parents, configs, strict=False))
        if c is None
    ]
    if len(parents) < 2:
        unreadable.append("the second parent (the prompt shows only one)")
    missing = " and ".join(unreadable)
    if readable:
        verb = "has" if len(unreadable) == 1 else "have"
        note = (
            f"{missing} {verb} no CONFIG I can read, so instead of a crossover this improves the other parent, "
            f"{node_label(readable[0].node)}."
        )
        return _improve_one(facts, prompt, readable[0], rng, note)
    editable = [p for p in parents if find_estimator(p.code) is not None]
    if editable:
        note = (
            f"{missing} have no CONFIG I can combine, so instead of a crossover this improves "
            f"{node_label(editable[0].node)}."
        )
        return _improve_one(facts, prompt, editable[0], rng, note)
    sentences, code = draft(facts, prompt.attempts, rng, allow_bug=False, hints=program_hints(prompt.program))
    note = f"{missing} have no CONFIG I can read, so instead of a crossover this is a fresh draft."
    return [note, *sentences], code


def _improve_one(
    facts: TaskFacts, prompt: Prompt, parent: Parent, rng: random.Random, note: str
) -> tuple[list[str], str]:
    """The improve operator applied to `parent`, its plan led by `note`."""
    single = dataclasses.replace(
        prompt,
        parents=[parent],
        parent_id=parent.node,
        parent_plan=parent.plan,
        parent_code=parent.code,
        parent_score=parent.score,
    )
    sentences, code = improve(facts, single, rng)
    return [note, *sentences], code


def _better(facts: TaskFacts, a: Parent, b: Parent) -> Parent:
    """The parent with the better harness score; A on ties, B only if A has no score and B has one."""
    score_a, score_b = _score(a), _score(b)
    if score_b is None or score_a is None:
        return b if score_a is None and score_b is not None else a
    lower = facts.metric in LOWER_IS_BETTER
    return b if (score_b < score_a if lower else score_b > score_a) else a


def _score(parent: Parent) -> float | None:
    """The parent's harness score, or None when it is missing or not a finite number."""
    try:
        value = float(parent.score)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _describe(parent: Parent, config: dict) -> str:
    """How the plan names a parent: node, family and score."""
    score = f", validation score {parent.score}" if parent.score else ""
    return f"{node_label(parent.node)} ({family_label(config)}{score})"
