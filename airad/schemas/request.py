"""The run request: what a client publishes on `airad.requests` to start a run."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

import msgspec
from msgspec import Meta, Struct

from airad.schemas.json_schema import MAX_SAFE_INTEGER, standard_json_schema
from airad.schemas.policies import GreedyPolicy, OperatorSpec, PolicySpec, default_operators
from airad.schemas.tags import struct_tag
from airad.schemas.task_specs import (  # noqa: F401 (re-exported: the request's task kinds)
    ABSOLUTE_PATH,
    BUILTIN_TASKS,
    BundledTask,
    ContractTask,
    CsvTask,
    MleBenchTask,
    PluginTask,
    ScriptTask,
    Sha256,
    TaskSpec,
    ValidationFraction,
)

MAX_REQUEST_BYTES = 256 * 1024

RunId = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
        description="Letters, digits, '-' and '_', 1 to 64 characters; usable as a NATS subject token.",
    ),
]
Domain = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
        description=(
            "Groups runs on the same problem: a run's findings become the domain's knowledge atoms, and later "
            "runs of the domain see them in their prompts. Letters, digits, '-' and '_', 1 to 64 characters."
        ),
    ),
]
PositiveInt = Annotated[int, Meta(ge=1)]
NonNegativeInt = Annotated[int, Meta(ge=0)]
PositiveFloat = Annotated[float, Meta(gt=0)]
NonNegativeFloat = Annotated[float, Meta(ge=0)]
Seed = Annotated[
    int,
    Meta(
        ge=0,
        le=MAX_SAFE_INTEGER,
        description="Seeds the policy's random choices; 0 to 2^53 - 1, so a JavaScript number holds it exactly.",
    ),
]


class ModelSpec(Struct, frozen=True, forbid_unknown_fields=True):
    """Which language model answers the operators' prompts, as a litellm model string."""

    name: Annotated[str, Meta(min_length=1)] = "airad-offline/coder"
    temperature: Annotated[float, Meta(ge=0, le=2)] = 0.7
    max_tokens: PositiveInt = 8192
    timeout_s: PositiveFloat = 600.0
    api_base: str | None = None
    api_key_env: (
        Annotated[
            str,
            Meta(
                pattern=r"^[A-Z_][A-Z0-9_]*$",
                description="Name of the daemon's environment variable holding the API key (never the key itself).",
            ),
        ]
        | None
    ) = None
    context_tokens: (
        Annotated[
            int,
            Meta(
                ge=256,
                description=(
                    "The model's context window in tokens; prompts that would not fit, with max_tokens kept for the "
                    "answer, are shortened by docs/operators.md's rule. Null: litellm's model info, if it knows it."
                ),
            ),
        ]
        | None
    ) = None
    retries: (
        Annotated[
            int,
            Meta(
                ge=0,
                le=10,
                description=(
                    "How many times a call that met a passing fault (rate limit, 5xx, dropped connection) is tried "
                    "again. Null: the daemon's model_retries (4) for a hosted API, 1 when api_base is set (a local "
                    "server). Authentication errors and unknown models are never retried."
                ),
            ),
        ]
        | None
    ) = None
    retry_timeouts: (
        Annotated[
            bool,
            Meta(
                description=(
                    "Whether a call that timed out is tried again. Null: true for a hosted API, false when "
                    "api_base is set: a one-at-a-time local server is still busy with the abandoned call."
                )
            ),
        ]
        | None
    ) = None
    concurrency: (
        Annotated[
            int,
            Meta(
                ge=1,
                le=1024,
                description=(
                    "Calls in flight at once to this model's server (calls to one api_base share it, whatever "
                    "the alias). Null: the daemon's setting. For a local server, its number of slots."
                ),
            ),
        ]
        | None
    ) = None

    @property
    def local(self) -> bool:
        """A model on a server of the user's own (`api_base` set), such as llama.cpp's or Ollama's."""
        return self.api_base is not None


MODEL_OPERATORS = ("draft", "improve", "debug", "crossover", "analyze", "distill")
OperatorName = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
OperatorModels = Annotated[
    dict[OperatorName, ModelSpec],
    Meta(
        description=(
            "A model per operator (draft, improve, debug, crossover, analyze, distill, or a plugin's), replacing "
            "`model` for it (e.g. a cheaper one for analyze)."
        )
    ),
]


class Budget(Struct, frozen=True, forbid_unknown_fields=True):
    """When a run stops: whichever limit is reached first."""

    max_nodes: PositiveInt = 20
    wall_seconds: PositiveFloat = 3600.0
    usd: NonNegativeFloat | None = 10.0
    tokens: PositiveInt | None = None


class JobResources(Struct, frozen=True, forbid_unknown_fields=True):
    """What each node's script may use, whichever executor runs it."""

    node_timeout_s: PositiveFloat = 600.0
    cpus: PositiveInt = 1
    memory_mb: (
        Annotated[
            int,
            Meta(
                ge=64,
                description="Memory limit per script in MiB, all its processes and its /tmp together; null for none.",
            ),
        ]
        | None
    ) = 8192
    processes: Annotated[
        int, Meta(ge=8, le=1_000_000, description="How many processes and threads a script may have at once.")
    ] = 1024
    disk_mb: (
        Annotated[
            int,
            Meta(
                ge=16,
                description="What a script may write in MiB: its work dir, its /tmp, its stdout and stderr; "
                "null for no limit.",
            ),
        ]
        | None
    ) = 20480
    cache: Annotated[
        bool,
        Meta(
            description="Reuse the result of an identical script (after normalisation) run earlier in the run, "
            "instead of running it again; recorded as the node's `cached_from`."
        ),
    ] = True


class LocalExecutor(JobResources, frozen=True, forbid_unknown_fields=True, tag="local", tag_field="kind"):
    """Run each node's script on the daemon's host, in a bubblewrap sandbox when `bwrap` is present."""


class ContainerExecutor(JobResources, frozen=True, forbid_unknown_fields=True, tag="container", tag_field="kind"):
    """Run each node's script in a fresh container (Docker or Podman API) with no network."""

    gpus: NonNegativeInt = 0
    image: Annotated[str, Meta(min_length=1)] | None = None


class SshExecutor(JobResources, frozen=True, forbid_unknown_fields=True, tag="ssh", tag_field="kind"):
    """Run each node's script on one of the daemon's SSH hosts, with `gpus` GPUs of its own."""

    gpus: NonNegativeInt = 0


class SlurmExecutor(JobResources, frozen=True, forbid_unknown_fields=True, tag="slurm", tag_field="kind"):
    """Submit each node's script as a Slurm batch job on the daemon's cluster."""

    gpus: NonNegativeInt = 0
    partition: Annotated[str, Meta(min_length=1)] | None = None


ExecutorSpec = LocalExecutor | ContainerExecutor | SshExecutor | SlurmExecutor


MAX_PROGRAM_CHARS = 16 * 1024
MAX_BASELINE_CHARS = 128 * 1024

Program = Annotated[
    str,
    Meta(
        max_length=MAX_PROGRAM_CHARS,
        description=(
            "The research program (Markdown, like Dojo's PROGRAM.md): goal, constraints, ideas to try and to avoid. "
            "Every operator prompt includes it."
        ),
    ),
]
Baseline = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_BASELINE_CHARS,
        description=(
            "The user's own script (Python source): node 0 runs it as given, the harness scores it, and the search "
            "improves it instead of drafting from nothing."
        ),
    ),
]


class RunRequest(Struct, frozen=True, forbid_unknown_fields=True):
    """One search: a policy working on a task with a model, an executor, a seed and a budget; optionally
    steered by a research `program` and started from the user's own `baseline` script.

    `run_id` is optional: a request without one gets `req-<stream sequence of its message>`, and ids
    of that form are refused in a request. The same request sent again under its `run_id` is that run
    (nothing new starts); a different request under a taken id is rejected on `req-<its sequence>`."""

    task: TaskSpec
    policy: PolicySpec = GreedyPolicy()
    operators: OperatorSpec | None = None
    model: ModelSpec = ModelSpec()
    operator_models: OperatorModels = {}
    seed: Seed = 0
    budget: Budget = Budget()
    executor: ExecutorSpec = LocalExecutor()
    run_id: RunId | None = None
    labels: dict[str, str] = {}
    program: Program = ""
    baseline: Baseline | None = None
    domain: Domain | None = None


def task_label(task: TaskSpec) -> str:
    """The name a task goes by in listings: a bundled name, a competition, a title, or its file's name."""
    for field in ("name", "competition", "title"):
        value = getattr(task, field, "")
        if value:
            return value
    path = getattr(task, "train", "") or getattr(task, "path", "") or getattr(task, "dir", "")
    return path.rstrip("/").rsplit("/", 1)[-1] or struct_tag(task)


def operators_of(request: RunRequest) -> OperatorSpec:
    """The request's operator settings, or its policy's published operator set."""
    return request.operators or default_operators(request.policy)


def model_for(request: RunRequest, operator: str) -> ModelSpec:
    """The model that answers `operator`'s prompts: its own, or the request's."""
    return request.operator_models.get(operator, request.model)


def models_of(request: RunRequest) -> list[ModelSpec]:
    """The models a run asks: its model and each operator's own, once each."""
    models: list[ModelSpec] = []
    for model in (request.model, *request.operator_models.values()):
        if model not in models:
            models.append(model)
    return models


def derived_run_id(request_seq: int) -> str:
    """The run id of a request that names none: from its stream sequence, so a redelivery maps to it."""
    return f"req-{request_seq}"


def is_derived_run_id(run_id: str) -> bool:
    """Whether `run_id` has the form `derived_run_id` gives: such ids are the daemon's, never a client's
    or an imported run's."""
    return re.fullmatch(r"req-\d+", run_id) is not None


def derived_experiment_id(request_seq: int) -> str:
    """The id of an experiment request that names none, like a run's: `exp-<stream sequence>`."""
    return f"exp-{request_seq}"


def request_size_rule(subject: str, rejection: str) -> str:
    """The sentence a request schema's description gives the size limit and integer rules in."""
    return (
        f"Published as UTF-8 JSON on `{subject}`. The whole message may be at most {MAX_REQUEST_BYTES:,} bytes "
        f"(256 KiB); a larger one is rejected (`{rejection}`, field `$`) whatever this schema allows, so "
        "the character caps (maxLength) of long text fields are not a promise that they fit together. "
        "An integer field also takes an integral number written as a float (1.0, 1e3); 1.5 is rejected."
    )


def run_request_json_schema(extend: Callable[[dict], dict] | None = None) -> dict:
    """The JSON Schema of `RunRequest`, as committed in docs/run-request.schema.json: standard
    2020-12. `extend` changes msgspec's schema before it is made standard (`airad schema` adds the
    installed plugins' kinds to its tagged unions)."""
    schema = msgspec.json.schema(RunRequest)
    if extend is not None:
        schema = extend(schema)
    return standard_json_schema(
        schema, "airad run request", f"One run request. {request_size_rule('airad.requests', 'run.rejected')}"
    )
