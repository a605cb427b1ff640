"""What `airad run`, `submit --wait` and `show --node` print about a node that failed: the cause in
full enough to act on, and every answer the model gave."""

from airad.cli.output import node_detail, node_line, shorten
from airad.events.fold import Node, RunState
from airad.schemas.events import ModelCall


def test_a_long_cause_is_cut_from_the_middle_keeping_both_ends():
    cause = "generate: model call failed: InternalServerError: litellm.InternalServerError: " + "x" * 300 + " the real reason"
    short = shorten(cause)
    assert len(short) == 160 and short.startswith("generate: model call failed: InternalServerError")
    assert short.endswith("the real reason") and " … " in short
    assert shorten("a\nb   c") == "a b c"
    node = Node(3, "draft", (), 0.0, status="failed", failure=cause)
    assert node_line(node, "accuracy").rstrip().endswith("the real reason")


def test_show_node_lists_every_answer_and_the_text_of_the_unused_ones():
    calls = (
        ModelCall("sha-cut", "length", 512, 900, 512, 0.0, 17.4, "cut off at max_tokens (512 tokens)"),
        ModelCall("sha-prose", "stop", 1024, 900, 80, 0.0, 3.1, "the answer contains no Python code block"),
    )
    node = Node(0, "draft", (), 0.0, status="failed", failure="generate: no usable answer in 2 attempts", calls=calls,
                llm_seconds=20.5)
    state = RunState("r", nodes=(node,), metric="accuracy")
    text = node_detail(state, 0, {"sha-cut": "Plan: try\n```python\nimport pan", "sha-prose": "I think you should " * 3})
    assert "model answers: 2 in 20.5 s" in text
    assert "1. finish length, 512 of 512 tokens, 17.4 s: cut off at max_tokens (512 tokens) [sha-cut]" in text
    assert "     | import pan" in text and "     | I think you should" in text
    assert "2. finish stop, 80 of 1024 tokens, 3.1 s: the answer contains no Python code block [sha-prose]" in text


def test_a_review_that_was_not_one_is_shown_as_none():
    node = Node(0, "draft", (), 0.0, status="scored", valid=True, score=0.9, analyzed=True, analysis="")
    assert "model's review: none" in node_detail(RunState("r", nodes=(node,), metric="accuracy"), 0)
