"""Search policies and operator settings, as they appear in a run request (published defaults)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from airad.schemas.tags import struct_tag

PositiveInt = Annotated[int, Meta(ge=1)]
NonNegativeInt = Annotated[int, Meta(ge=0)]
PositiveFloat = Annotated[float, Meta(gt=0)]
Probability = Annotated[float, Meta(ge=0, le=1)]
InFlight = Annotated[int, Meta(ge=1, le=64, description="Nodes this run keeps in flight at once.")]

MemoryKind = Literal["none", "simple", "sibling", "ancestral", "scoped"]
MAX_TEMPLATE_CHARS = 64 * 1024
MAX_TEMPLATES = 32
TemplateName = Annotated[str, Meta(pattern=r"^_?[a-z][a-z0-9_]{0,39}$")]
TemplateText = Annotated[str, Meta(max_length=MAX_TEMPLATE_CHARS)]


class OperatorSpec(Struct, frozen=True, forbid_unknown_fields=True):
    """How the shared operators build prompts.

    memory: which earlier nodes a prompt recalls: none; simple (the latest finished ones); sibling
    (other children of the same parent); ancestral (the parent chain); scoped (drafts recall every
    draft, improvements their siblings, debugging its ancestors: AIRA's operators).
    """

    memory: MemoryKind = "scoped"
    memory_size: Annotated[int, Meta(ge=0, le=50)] = 8
    diverse_drafts: bool = True
    analyze: bool = True
    template_set: Annotated[
        str,
        Meta(
            pattern=r"^[a-z][a-z0-9_-]{0,39}$",
            description="The bundled prompt templates the operators render: aide or aira (`airad templates`).",
        ),
    ] = "aira"
    templates: Annotated[
        dict[TemplateName, TemplateText],
        Meta(
            max_length=MAX_TEMPLATES,
            description=(
                "Jinja2 templates by name (system, draft, improve, debug, crossover, analyze, distill, or a partial "
                "starting with _) that replace the set's; a request file's templates_dir fills it from a folder's "
                "*.j2 files. See docs/operators.md."
            ),
        ),
    ] = {}


AIDE_OPERATORS = OperatorSpec(memory="simple", diverse_drafts=False, template_set="aide")
AIRA_OPERATORS = OperatorSpec()


class GreedyPolicy(Struct, frozen=True, forbid_unknown_fields=True, tag="greedy", tag_field="kind"):
    """AIDE greedy: draft N, then debug a buggy leaf with probability p (up to a depth), else improve the best."""

    num_drafts: PositiveInt = 5
    debug_prob: Probability = 0.5
    max_debug_depth: NonNegativeInt = 3
    parallel: InFlight = 1


class AiraGreedyPolicy(Struct, frozen=True, forbid_unknown_fields=True, tag="aira-greedy", tag_field="kind"):
    """AIRA greedy: greedy search with AIRA's operators (distinct ideas per draft, scoped memory)."""

    num_drafts: PositiveInt = 5
    debug_prob: Probability = 1.0
    max_debug_depth: NonNegativeInt = 20
    parallel: InFlight = 1


class MctsPolicy(Struct, frozen=True, forbid_unknown_fields=True, tag="mcts", tag_field="kind"):
    """Monte-Carlo tree search: UCT selection, `num_children` expansions per node, a bounded debug cycle
    for buggy children, back-propagation of fitness normalised to [0, 1] within the run."""

    uct_c: Annotated[float, Meta(ge=0)] = 0.25
    num_children: PositiveInt = 5
    max_debug_depth: NonNegativeInt = 3
    max_debug_seconds: PositiveFloat = 3600.0
    parallel: InFlight = 1


class EvolutionaryPolicy(Struct, frozen=True, forbid_unknown_fields=True, tag="evolutionary", tag_field="kind"):
    """Island-model evolution: softmax selection with a cooling temperature, improve as mutation,
    crossover after a warm-up, admission at the island mean, size caps and ring migration."""

    num_islands: PositiveInt = 1
    individuals_per_generation: PositiveInt = 5
    crossover_prob: Probability = 0.5
    crossover_warmup_generations: NonNegativeInt = 2
    initial_temperature: PositiveFloat = 1.0
    temperature_decay: Annotated[float, Meta(gt=0, le=1)] = 1.0
    min_temperature: PositiveFloat = 0.05
    max_island_size: PositiveInt = 500
    migration_interval: NonNegativeInt = 0
    debug_prob: Probability = 0.5
    max_debug_depth: NonNegativeInt = 10
    parallel: InFlight = 1


PluginName = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]


class PluginPolicy(Struct, frozen=True, forbid_unknown_fields=True, tag="plugin", tag_field="kind"):
    """A policy from an installed plugin (docs/extending.md). A request may name it by its own kind,
    `{kind = "successive-halving", rungs = 3}`; intake records it in this form, checked against the
    plugin's parameters, so any airad can read the log without the plugin."""

    name: PluginName
    params: dict[str, Any] = {}
    parallel: InFlight = 1


PolicySpec = GreedyPolicy | AiraGreedyPolicy | MctsPolicy | EvolutionaryPolicy | PluginPolicy
BUILTIN_POLICIES = ("greedy", "aira-greedy", "mcts", "evolutionary")


def policy_kind(policy: PolicySpec) -> str:
    """The stable tag of a policy spec, e.g. 'mcts'."""
    return struct_tag(policy)


def default_operators(policy: PolicySpec) -> OperatorSpec:
    """The operator set a policy is published with: AIDE's for AIDE greedy, AIRA's for the rest."""
    return AIDE_OPERATORS if isinstance(policy, GreedyPolicy) else AIRA_OPERATORS
