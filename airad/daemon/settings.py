"""Daemon settings: one frozen struct, loaded once at the edge from a TOML file and AIRAD_* variables."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta, Struct

from airad.executors.config import ContainerBackend, SlurmBackend, SshHost

STRUCTURED_FIELDS = ("container", "ssh_hosts", "slurm", "nats_auth", "sandbox_ro_binds")


def default_state_dir(env: Mapping[str, str]) -> str:
    """`$XDG_STATE_HOME/airad`, or `~/.local/state/airad`."""
    base = env.get("XDG_STATE_HOME") or os.path.join(env.get("HOME", os.path.expanduser("~")), ".local", "state")
    return os.path.join(base, "airad")


class NatsAuth(Struct, frozen=True, forbid_unknown_fields=True):
    """How airad authenticates to the configured NATS server and verifies it over TLS.

    Secrets are never held here, only where to find them at connect time: `password_env` and
    `token_env` name an environment variable, `password_file`, `token_file` and `nkey_seed_file` a
    file. So this struct can be dumped, logged or recorded without showing a secret.
    `tls_ca_file`: the CA that signed the server's certificate (turns TLS on, as a `tls://` URL does);
    `tls_cert_file` + `tls_key_file`: a client certificate, for servers that verify clients.
    Applies to `nats_url`; the embedded server (used when no URL is set) listens on loopback only.
    """

    user: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    token_env: str | None = None
    token_file: str | None = None
    nkey_seed_file: str | None = None
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None


class Settings(Struct, frozen=True, forbid_unknown_fields=True):
    """Everything the daemon and the CLI can be configured with.

    `mlflow_tracking_uri` (e.g. `file:///path/mlruns`): the daemon also mirrors every run into
    MLflow, from a subscriber of the event log (needs the `mlflow` extra; `airad mlflow-sync` does
    the same as a separate process).

    `max_runs`: how many runs this daemon drives at once (0: no limit). Daemons sharing one request
    stream take requests only while they have room; a request accepted by a full daemon waits as an
    unowned run for the first daemon with room.

    `grading_processes`: grade node submissions in this many worker processes (0: in a thread of
    the daemon). A daemon with thousands of runs wants 1 or more, so the harness's CPU stays off
    its event loop.

    `sandbox_ro_binds`: host paths the local executor's sandboxed jobs see read-only, each `PATH` or
    `HOST:SANDBOX` (`~` is the daemon user's home, itself hidden): a model cache, say
    (`AIRAD_SANDBOX_RO_BINDS` as a JSON list).

    `weights_cache`: a host folder of pretrained weights (`huggingface/` and `torch/` in it) that the
    local executor's sandboxed jobs see read-only at its own path, and container jobs at /weights
    (a path on the engine's host), with `HF_HOME` and `TORCH_HOME` pointing into it and the Hugging
    Face libraries set offline (`executors.weights_cache`; `AIRAD_WEIGHTS_CACHE`).

    `max_output_file_mb`: an output file (a node's submission) bigger than this is not collected
    by any executor; the node's stderr and its score error say so.

    `split_key_file`: a file holding the installation's split secret (32 bytes: which rows of a
    bundled or CSV task are validation and which held-out test; `tasks.split_secret`), to share it
    across installations or pin it in tests; unset, the first daemon on a NATS draws one and every
    other daemon there adopts it.

    `reference_baselines`: score the harness's reference baselines (a constant and a default gradient
    boosting model) on each new run's split and record them (`run.baselines`, docs/tasks.md); a second
    or two of CPU a run (`AIRAD_REFERENCE_BASELINES=false` turns them off).

    `nats_replicas`: how many servers of a NATS cluster keep each stream, KV bucket and object store
    airad creates (1 on a single server; 3 for a cluster that outlives a server's loss,
    docs/deployment.md). An existing stream is never weakened: one kept by fewer servers is raised to
    this, one kept by more is left as it is.
    """

    state_dir: str = ""
    nats_url: str | None = None
    lease_ttl_s: Annotated[float, Meta(ge=2)] = 30.0
    max_runs: Annotated[int, Meta(ge=0)] = 0
    grading_processes: Annotated[int, Meta(ge=0)] = 0
    max_output_file_mb: Annotated[int, Meta(ge=1)] = 256
    local_slots: Annotated[int, Meta(ge=1)] = 2
    model_concurrency: Annotated[int, Meta(ge=1)] = 16
    model_requests_per_minute: Annotated[float, Meta(ge=0)] = 0.0
    model_retries: Annotated[int, Meta(ge=0)] = 4
    generation_attempts: Annotated[int, Meta(ge=1)] = 2
    experiment_poll_s: Annotated[float, Meta(gt=0)] = 30.0
    sandbox: bool | None = None
    sandbox_ro_binds: tuple[str, ...] = ()
    weights_cache: str | None = None
    log_level: str = "info"
    container: ContainerBackend | None = None
    ssh_hosts: tuple[SshHost, ...] = ()
    slurm: SlurmBackend | None = None
    mlflow_tracking_uri: str | None = None
    nats_auth: NatsAuth = NatsAuth()
    split_key_file: str | None = None
    reference_baselines: bool = True
    nats_replicas: Annotated[int, Meta(ge=1, le=5)] = 1

    @property
    def state_path(self) -> Path:
        """The state directory as a Path."""
        return Path(self.state_dir)


class SettingsError(ValueError):
    """A settings file or variable is wrong; the message names it."""


def _structured(variable: str, text: str):
    """The JSON value of a variable that sets a table of settings (AIRAD_CONTAINER='{"url": ...}')."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SettingsError(f"{variable} must be JSON: {exc}") from None


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None, **overrides) -> Settings:
    """Defaults, then the TOML file, then AIRAD_<FIELD> variables, then explicit overrides."""
    env = os.environ if env is None else env
    values: dict = {}
    if path is not None:
        try:
            values.update(tomllib.loads(Path(path).read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read settings file {path}: {exc}") from None
    for field in Settings.__struct_fields__:
        variable = f"AIRAD_{field.upper()}"
        if variable in env:
            values[field] = _structured(variable, env[variable]) if field in STRUCTURED_FIELDS else env[variable]
    values.update({k: v for k, v in overrides.items() if v is not None})
    if not values.get("state_dir"):
        values["state_dir"] = default_state_dir(env)
    try:
        return msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid settings: {exc}") from None
