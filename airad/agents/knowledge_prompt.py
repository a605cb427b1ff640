"""The `# Knowledge from earlier runs` section of operator prompts: a bounded choice of a domain's
atoms (the most confident first) and one line per atom.

Each line ends with the atom's id, version and confidence in a fixed form, so a reader (a model,
or the offline coder) can tell which atom says what.
"""

from __future__ import annotations

from collections.abc import Sequence

from airad.agents.prompt_headings import KNOWLEDGE, section
from airad.schemas.knowledge_events import Atom

TOP_K = 8
MAX_CHARS = 2000
CLAIM_CHARS = 300
INTRO = (
    "Earlier runs on this problem found the following (measured by the harness on their validation "
    "split). Prefer what helped and avoid what hurt, unless you have a good reason."
)


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


def knowledge_section(atoms: Sequence[Atom]) -> str:
    """The prompt section for atoms already selected; empty when there are none."""
    if not atoms:
        return ""
    return section(KNOWLEDGE, f"{INTRO}\n\n" + "\n".join(atom_line(a) for a in atoms))
