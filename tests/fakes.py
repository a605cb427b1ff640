"""Fakes for unit tests: a scripted model and an instant executor (never the only test of a boundary)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from airad.daemon.llm import Completion, LLMError
from airad.executors.base import JobLost, JobResult, JobSpec
from airad.executors.local import thread_limits


class ScriptedLLM:
    """Answers from a list (or a function of the prompt): a string is the answer's text, a Completion
    is returned as it is (with the call's max_tokens recorded in `max_tokens`), an Exception is raised
    (an LLMError as it is, keeping its kind). Calls offering tools (the analyze step) get a fixed review
    without consuming an answer. `check_model` raises `broken` while it is set, and counts the checks."""

    def __init__(self, answers: list | Callable[[str], str], cost_usd: float = 0.0):
        self.answers = answers
        self.cost_usd = cost_usd
        self.prompts: list[str] = []
        self.max_tokens: list[int] = []
        self.reviews = 0
        self.broken: LLMError | None = None
        self.checks = 0

    async def check_model(self, model):
        self.checks += 1
        if self.broken is not None:
            raise self.broken

    async def context_window(self, model):
        return model.context_tokens

    def count_tokens(self, model, messages):
        return sum(len(m.content) for m in messages) // 4

    async def complete(self, model, messages, tools=None, context=None):
        prompt = messages[-1].content
        if tools:
            self.reviews += 1
            review = '{"is_bug": false, "summary": "ran", "metric": 0.9, "lower_is_better": false}'
            return Completion(text="", model=model.name, tool_arguments=review, prompt_tokens=10, completion_tokens=5)
        self.prompts.append(prompt)
        self.max_tokens.append(model.max_tokens)
        answer = self.answers(prompt) if callable(self.answers) else self.answers.pop(0)
        if isinstance(answer, LLMError):
            raise answer
        if isinstance(answer, Exception):
            raise LLMError(str(answer))
        if isinstance(answer, Completion):
            return answer
        return Completion(text=answer, model=model.name, prompt_tokens=100, completion_tokens=50, cost_usd=self.cost_usd)


class InlineExecutor:
    """Runs the script synchronously at `start` in a temp dir with the inputs symlinked; no sandbox, no
    timeout. `results` holds finished jobs by handle, so a test can pose as an earlier daemon's job."""

    name = "local"

    def __init__(self):
        self.submitted: list[JobSpec] = []
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.results: dict[str, JobResult] = {}
        self._specs: dict[str, JobSpec] = {}

    async def prepare(self, spec: JobSpec) -> str:
        self.submitted.append(spec)
        handle = json.dumps({"job_id": spec.job_id, "n": len(self.submitted)})
        self._specs[handle] = spec
        return handle

    async def start(self, handle: str) -> None:
        spec = self._specs.pop(handle, None)
        if spec is None:
            return
        self.started.append(handle)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            (work / "input").symlink_to(spec.inputs_dir)
            (work / "submission").mkdir()
            for name, text in spec.files.items():
                (work / name).write_text(text)
            env = {**os.environ, **thread_limits(spec.cpus)}
            done = subprocess.run([sys.executable, "solution.py"], cwd=work, env=env, capture_output=True, timeout=120)
            outputs = {o: (work / o).read_bytes() for o in spec.outputs if (work / o).is_file()}
        self.results[handle] = JobResult(done.returncode, 0.1, stdout=done.stdout, stderr=done.stderr, outputs=outputs)

    async def wait(self, handle: str) -> JobResult:
        if handle not in self.results:
            raise JobLost(f"no job {handle}")
        return self.results.pop(handle)

    async def cancel(self, handle: str) -> None:
        self.cancelled.append(handle)


class SleepingExecutor:
    """Finishes each job after `seconds` with the task's sample submission; counts jobs in flight.

    With `gather=k` a job also waits (up to 5 s) until k jobs are in flight, so a test of
    concurrency does not depend on how fast the machine generates the nodes."""

    name = "local"

    def __init__(self, seconds: float = 0.05, gather: int = 1):
        self.seconds = seconds
        self.gather = gather
        self.in_flight = 0
        self.max_in_flight = 0
        self._specs: dict[str, JobSpec] = {}

    async def prepare(self, spec: JobSpec) -> str:
        self._specs[spec.job_id] = spec
        return spec.job_id

    async def start(self, handle: str) -> None:
        pass

    async def wait(self, handle: str) -> JobResult:
        import anyio

        spec = self._specs.pop(handle)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            with anyio.move_on_after(5):
                while self.in_flight < self.gather:
                    await anyio.sleep(0.01)
            await anyio.sleep(self.seconds)
        finally:
            self.in_flight -= 1
        sample = (Path(spec.inputs_dir) / "sample_submission.csv").read_bytes()
        return JobResult(0, self.seconds, stdout=b"Validation metric: 0.5\n", outputs={spec.outputs[0]: sample})

    async def cancel(self, handle: str) -> None:
        self._specs.pop(handle, None)
