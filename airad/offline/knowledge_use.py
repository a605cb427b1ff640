"""How the offline coder acts on `# Knowledge from earlier runs`: drafts take a model family that
helped (never one that hurt, while others remain) and the feature options that helped; improve
steps prefer a change that helped and avoid one that hurt.

Atoms are matched by id: `family.<family>` for model families, and for changes the claim key that
`airad.agents.findings.change_key` gives the offline coder's own change descriptions.
"""

from __future__ import annotations

import random

from airad.agents.findings import change_key
from airad.offline.catalog import FAMILY_NAMES
from airad.offline.prompt import KnownAtom

# What a draft's CONFIG takes from a change that helped (and the reverse, from one that hurt).
_CHANGES: dict[str, tuple[dict[str, object], dict[str, object]]] = {
    "added signed log1p copies of the numeric features": ({"log_features": True}, {"log_features": False}),
    "added pairwise products of the first four numeric features": ({"interactions": 4}, {"interactions": 0}),
    "switched numeric imputation from median to mean": ({"impute": "mean"}, {"impute": "median"}),
    "switched numeric imputation from mean to median": ({"impute": "median"}, {"impute": "mean"}),
    "switched categorical encoding to one-hot": ({"one_hot": True}, {"one_hot": False}),
    "switched categorical encoding to ordinal": ({"one_hot": False}, {"one_hot": True}),
}
DRAFT_PATCHES = {change_key(text): patches for text, patches in _CHANGES.items()}


def cite(atom: KnownAtom) -> str:
    """How a plan names the atom it follows."""
    return f"atom {atom.atom_id} v{atom.version}"


def family_atoms(knowledge: list[KnownAtom], effect: str) -> list[tuple[str, KnownAtom]]:
    """(family, atom) for the model-family atoms with this effect, most confident first."""
    found = []
    for atom in knowledge:
        family = atom.atom_id.removeprefix("family.")
        if atom.effect == effect and atom.atom_id.startswith("family.") and family in FAMILY_NAMES:
            found.append((family, atom))
    return found


def choose_family(
    untried: list[str], everything: list[str], knowledge: list[KnownAtom], rng: random.Random
) -> tuple[str, str]:
    """(family, plan sentence): the most confident untried family that helped, else a random untried
    one that did not hurt."""
    for family, atom in family_atoms(knowledge, "helped"):
        if family in untried:
            return (
                family,
                f"Earlier runs found that {FAMILY_NAMES[family]} helped ({cite(atom)}), so this draft uses it.",
            )
    hurt = family_atoms(knowledge, "hurt")
    avoided = {family for family, _ in hurt}
    pool = [f for f in untried if f not in avoided] or untried or everything
    family = rng.choice(pool)
    if not hurt:
        return family, ""
    names = ", ".join(f"{FAMILY_NAMES[f]} ({cite(a)})" for f, a in hurt)
    return family, f"It avoids what hurt in earlier runs: {names}."


def apply_to_draft(config: dict, knowledge: list[KnownAtom], scaled: bool) -> tuple[dict, str]:
    """The CONFIG with the feature and preprocessing options the atoms favour, and a plan sentence."""
    changed, cited = dict(config), []
    for atom in reversed(knowledge):  # the most confident atom is applied last, so it wins
        patches = DRAFT_PATCHES.get(atom.atom_id)
        if patches is None:
            continue
        patch = patches[0] if atom.effect == "helped" else patches[1]
        if scaled and "one_hot" in patch:
            continue  # scaled families always one-hot encode
        changed.update(patch)
        cited.append(cite(atom))
    if not cited:
        return config, ""
    return changed, f"Its feature options follow the knowledge from earlier runs ({', '.join(reversed(cited))})."


def choose_change(
    outcomes: list[tuple[dict, str]], knowledge: list[KnownAtom], rng: random.Random
) -> tuple[dict, str, str]:
    """(config, description, plan sentence) of an improve step: the change that helped with the most
    confidence, else a random one that did not hurt (nor switches to a model family that hurt)."""
    keyed = [(change_key(description), config, description) for config, description in outcomes]
    for atom in knowledge:
        if atom.effect != "helped":
            continue
        for key, config, description in keyed:
            if key == atom.atom_id:
                return config, description, f"Earlier runs found this change helped ({cite(atom)})."
    hurt = {atom.atom_id: atom for atom in knowledge if atom.effect == "hurt"}
    for family, atom in family_atoms(knowledge, "hurt"):  # a switch to a family that hurt hurts too
        for key, config, description in keyed:
            if description.startswith("switched the model family") and config.get("family") == family:
                hurt.setdefault(key, atom)
    pool = [item for item in keyed if item[0] not in hurt] or keyed
    _, config, description = rng.choice(pool)
    avoided = sorted({cite(hurt[key]) for key, _, _ in keyed if key in hurt})
    note = f"It avoids changes that hurt in earlier runs ({', '.join(avoided)})." if avoided else ""
    return config, description, note
