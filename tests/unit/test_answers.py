import pytest

from airad.agents.answers import AnswerError, parse_answer


def test_plan_and_fenced_code():
    answer = parse_answer("I will fit a forest.\n\n```python\nimport os\nprint(os.getcwd())\n```\nDone.")
    assert answer.plan == "I will fit a forest."
    assert answer.code == "import os\nprint(os.getcwd())\n"


def test_think_block_is_ignored():
    text = "<think>maybe ```python\nbroken(\n``` no</think>Plan: ridge.\n```python\nx = 1\n```"
    answer = parse_answer(text)
    assert answer.code == "x = 1\n" and answer.plan == "Plan: ridge."


def test_several_fences_take_longest_python_block():
    text = "Plan.\n```bash\npip install x\n```\n```python\nx = 1\n```\n```python\nimport sys\nprint(sys.argv)\n```"
    assert parse_answer(text).code.startswith("import sys")


def test_unclosed_fence_and_bare_code():
    assert parse_answer("Plan\n```python\nimport os\nprint(1)\n").code == "import os\nprint(1)\n"
    assert "import pandas" in parse_answer("import pandas as pd\nprint(pd.__version__)").code


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("I am sorry, I cannot help with that.", "no Python code"),
        ("Plan\n```python\ndef f(:\n```", "does not compile"),
        ("<think>only thoughts</think>", "empty"),
    ],
)
def test_unusable_answers_say_why(text, message):
    with pytest.raises(AnswerError, match=message):
        parse_answer(text)
