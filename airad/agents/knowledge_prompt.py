"""Which of a domain's knowledge atoms a run's prompts show: a bounded choice, the most confident
first, sized by the line each takes (`atom_line`, the form the bundled templates also write:
effect, kind, claim, then the atom's id, version and confidence, so a reader can tell which atom
says what).
"""

from __future__ import annotations

from collections.abc import Sequence

from airad.schemas.knowledge_events import Atom

TOP_K = 8
MAX_CHARS = 2000
CLAIM_CHARS = 300


def atom_line(atom: Atom) -> str:
    """One atom as a prompt line: effect, kind, claim, then `(atom ID vN, confidence C)`."""
    claim = " ".join(atom.claim.split())[:CLAIM_CHARS]
    return (
        f"- {atom.effect} [{atom.kind}] {claim} (atom {atom.atom_id} v{atom.version}, confidence {atom.confidence:.2f})"
    )


def select_atoms(atoms: Sequence[Atom], top_k: int = TOP_K, max_chars: int = MAX_CHARS) -> tuple[Atom, ...]:
    """The atoms a prompt shows: most confident first (ties by id), at most `top_k`, whose lines fit
    in `max_chars` together."""
    chosen: list[Atom] = []
    used = 0
    for atom in sorted(atoms, key=lambda a: (-a.confidence, a.atom_id)):
        if len(chosen) == top_k:
            break
        size = len(atom_line(atom)) + 1
        if used + size > max_chars:
            continue
        chosen.append(atom)
        used += size
    return tuple(chosen)
