"""llama.cpp threads on a small machine: `python bench/llama_threads.py [--threads 1 2] [--reps 3]`.

Needs `scripts/install-local-model.sh`. For each thread count (both `--n_threads` and
`--n_threads_batch`), starts llama-cpp-python's server with SmolLM2-135M-Instruct, and sends the
same fixed completions (airad's aide and aira draft prompts, alternately, temperature 0, seed 1,
`--max-tokens` tokens): it prints, per request, the prompt-reading and generation speed the server
logged (llama.cpp's `prompt eval time` and `eval time`) and the request's wall time; then the
medians. Also prints the load average and the busiest other processes, since threads compete with
whatever else the machine runs. Figures: docs/models.md, "Threads on a small machine".
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.cassettes.record import prompt_messages  # noqa: E402
from tests.infra.llama_server import ALIAS, LlamaServer, chat, local_model_missing  # noqa: E402

PROMPT_EVAL = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
EVAL = re.compile(r"^\S*\s*eval time =\s*([\d.]+) ms /\s*(\d+) runs", re.MULTILINE)


def busiest(n: int = 6) -> str:
    out = subprocess.run(["ps", "-eo", "pcpu,comm", "--sort=-pcpu"], capture_output=True, text=True).stdout
    return "; ".join(" ".join(line.split()) for line in out.splitlines()[1 : n + 1])


def measure(threads: int, reps: int, max_tokens: int) -> list[dict]:
    results = []
    with LlamaServer(threads=threads, n_ctx=4096) as server:
        chat(server, {"model": ALIAS, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "seed": 1})
        for rep in range(reps):
            for prompt_set in ("aide", "aira"):
                before = len(server.log_path.read_text(errors="replace"))
                body = {
                    "model": ALIAS,
                    "messages": prompt_messages(prompt_set, "draft"),
                    "max_tokens": max_tokens,
                    "temperature": 0.0,
                    "seed": 1,
                }
                answer, seconds = chat(server, body)
                time.sleep(0.2)
                log = server.log_path.read_text(errors="replace")[before:]
                prompt = PROMPT_EVAL.search(log)
                gen = EVAL.search(log)
                usage = answer["usage"]
                result = {
                    "threads": threads,
                    "prompt": prompt_set,
                    "wall_s": seconds,
                    "completion_tokens": usage["completion_tokens"],
                    "prompt_tokens": usage["prompt_tokens"],
                    "prompt_eval_tok_s": int(prompt.group(2)) / float(prompt.group(1)) * 1000
                    if prompt and float(prompt.group(1))
                    else None,
                    "prompt_eval_tokens": int(prompt.group(2)) if prompt else None,
                    "gen_tok_s": int(gen.group(2)) / float(gen.group(1)) * 1000
                    if gen and float(gen.group(1))
                    else None,
                    "end_to_end_tok_s": usage["completion_tokens"] / seconds,
                }
                results.append(result)
                print(
                    f"threads={threads} {prompt_set} rep {rep}: {seconds:.2f} s, {usage['completion_tokens']} tokens, "
                    f"generation {result['gen_tok_s'] or 0:.1f} tok/s, "
                    f"prompt {result['prompt_eval_tok_s'] or 0:.1f} tok/s "
                    f"({result['prompt_eval_tokens']} tokens read), end to end {result['end_to_end_tok_s']:.1f} tok/s",
                    flush=True,
                )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args()
    problem = local_model_missing()
    if problem:
        print(f"llama_threads: {problem}", file=sys.stderr)
        return 2
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()}; busiest: {busiest()}")
    summary = {}
    for threads in args.threads:
        results = measure(threads, args.reps, args.max_tokens)
        summary[threads] = {
            key: statistics.median(r[key] for r in results if r[key] is not None)
            for key in ("gen_tok_s", "prompt_eval_tok_s", "end_to_end_tok_s", "wall_s")
        }
        print(f"load average {os.getloadavg()}; busiest: {busiest()}")
    for threads, medians in summary.items():
        print(
            f"median threads={threads}: generation {medians['gen_tok_s']:.1f} tok/s, "
            f"prompt {medians['prompt_eval_tok_s']:.1f} tok/s, "
            f"end to end {medians['end_to_end_tok_s']:.1f} tok/s, {medians['wall_s']:.2f} s a request"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
