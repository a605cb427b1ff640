"""The task a run request names: a bundled dataset, an MLE-bench competition, a user's CSV, contract
file or script project, or a plugin's kind (`TaskSpec`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from airad.schemas.policies import PluginName

ABSOLUTE_PATH = {"pattern": "^[/~]"}
"""What the schema states of every path on the daemon's host: absolute, or under a home the daemon
expands (`tasks.registry` enforces it; a request file's relative paths are made absolute beside the
file before publishing)."""


class BundledTask(Struct, frozen=True, forbid_unknown_fields=True, tag="bundled", tag_field="kind"):
    """A task built from a dataset that ships inside an installed package (`airad tasks`)."""

    name: Annotated[str, Meta(min_length=1, description="Name of a bundled task, e.g. 'breast-cancer'.")]
    validation_fraction: Annotated[float, Meta(gt=0, lt=0.9)] = 0.2


ValidationFraction = Annotated[
    float, Meta(gt=0, lt=0.9, description="Share of the labelled data the harness holds back as the validation split.")
]
Sha256 = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]


class MleBenchTask(Struct, frozen=True, forbid_unknown_fields=True, tag="mlebench", tag_field="kind"):
    """A competition prepared by MLE-bench's `prepare` step: `data_dir` holds its `public/` and
    `private/` folders (and `leaderboard.csv`, for medals)."""

    competition: Annotated[
        str, Meta(min_length=1, description="MLE-bench competition id, e.g. 'spooky-author-identification'.")
    ]
    data_dir: Annotated[
        str,
        Meta(
            min_length=1,
            extra_json_schema=ABSOLUTE_PATH,
            description="Directory of the prepared competition, on the daemon's host (an absolute path).",
        ),
    ]
    validation_fraction: ValidationFraction = 0.2
    leaderboard: (
        Annotated[
            str,
            Meta(
                min_length=1,
                description=(
                    "The competition's leaderboard.csv, for medals (MLE-bench keeps it in its repository, at "
                    "mlebench/competitions/<competition>/leaderboard.csv). "
                    "Default: data_dir/leaderboard.csv, else the one beside data_dir."
                ),
            ),
        ]
        | None
    ) = None
    max_validation_examples: (
        Annotated[
            int,
            Meta(
                ge=1,
                description=(
                    "At most this many labelled examples (rows, images, sentences...) are held out, "
                    "whatever the fraction: "
                    "a fifth of new-york-city-taxi's 55 million rows would make every submission hundreds of megabytes."
                ),
            ),
        ]
        | None
    ) = 50_000
    grading: Annotated[
        Literal["mlebench", "kaggle"],
        Meta(
            description=(
                "How submissions are graded: 'mlebench' gives MLE-bench's own numbers (its graders' conventions, "
                "scores rounded to 5 decimals before ranking); 'kaggle' follows the competition's published rules "
                "(docs/tasks.md lists every difference)."
            )
        ),
    ] = "mlebench"


class CsvTask(Struct, frozen=True, forbid_unknown_fields=True, tag="csv", tag_field="kind"):
    """A user's own table: a labelled CSV (and optionally a separate CSV of held-out test rows), the
    column to predict and a metric from `airad tasks --metrics`."""

    train: Annotated[
        str,
        Meta(min_length=1, extra_json_schema=ABSOLUTE_PATH, description="Labelled CSV file on the daemon's host."),
    ]
    target: Annotated[str, Meta(min_length=1)]
    metric: Annotated[str, Meta(min_length=1)]
    test: str | None = None
    id_column: str | None = None
    title: str = ""
    description: str = ""
    validation_fraction: ValidationFraction = 0.2
    test_fraction: Annotated[
        float, Meta(gt=0, lt=0.9, description="Share held out as the test split when `test` is not given.")
    ] = 0.2
    stratify: Annotated[
        bool | None,
        Meta(description="Keep each label's share in every split; default: on for a classification metric."),
    ] = None
    group_column: (
        Annotated[str, Meta(min_length=1, description="Rows sharing a value of this column stay in one split.")]
        | None
    ) = None
    time_column: (
        Annotated[str, Meta(min_length=1, description="A number or date column: validation and test rows come last.")]
        | None
    ) = None


class ContractTask(Struct, frozen=True, forbid_unknown_fields=True, tag="contract", tag_field="kind"):
    """A user's Python file defining `load_data()` and `evaluate(...)`, frozen by its SHA-256 when the
    task was created (`airad task freeze FILE`): a run refuses to start if the file changed since."""

    path: Annotated[
        str, Meta(min_length=1, extra_json_schema=ABSOLUTE_PATH, description="The file, on the daemon's host.")
    ]
    sha256: Sha256
    title: str = ""
    validation_fraction: ValidationFraction = 0.2


RelativePath = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$",
        description="A path relative to the script's work dir, without '..' or a leading '/' or '.'.",
    ),
]


class ScriptTask(Struct, frozen=True, forbid_unknown_fields=True, tag="script", tag_field="kind"):
    """A user's own project scored by the number its script writes to a metric file: the harness (not
    the model) reads `metric_file` from the node's outputs. `dir` is read-only at ./input/ for every
    node. `metric_key` names the score's key in a JSON object; without it the file holds one number.
    `test_key`, when given, names a held-out score the script also writes: reports only."""

    dir: Annotated[
        str,
        Meta(
            min_length=1,
            extra_json_schema=ABSOLUTE_PATH,
            description="The user's project directory on the daemon's host (an absolute path), read-only at "
            "./input/ for every node's script.",
        ),
    ]
    metric: Annotated[str, Meta(min_length=1, description="The metric's name in events and reports.")] = "score"
    lower_is_better: bool = False
    metric_file: RelativePath = "metrics.json"
    metric_key: Annotated[str, Meta(min_length=1)] | None = None
    test_key: Annotated[str, Meta(min_length=1)] | None = None
    title: str = ""
    description: str = ""


class PluginTask(Struct, frozen=True, forbid_unknown_fields=True, tag="plugin", tag_field="kind"):
    """A task kind from an installed plugin (docs/extending.md). A request may name it by its own kind;
    intake records it in this form, checked against the plugin's parameters."""

    name: PluginName
    params: dict[str, Any] = {}


TaskSpec = BundledTask | MleBenchTask | CsvTask | ContractTask | ScriptTask | PluginTask
BUILTIN_TASKS = ("bundled", "mlebench", "csv", "contract", "script")
