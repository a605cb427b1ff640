"""The best-so-far chart has a scale (metric, direction, worst and best values) and rises as the best
improves, for either direction of the metric; on the run screen it charts the run's valid nodes."""

from airad.events.in_memory import InMemoryEventLog
from airad.tui.app import AiradApp
from airad.tui.best_chart import BARS, ROWS, chart_text
from airad.tui.run_screen import RunScreen
from tests.factories import History
from tests.tui.helpers import until


def chart_lines(text) -> list[str]:
    return text.plain.splitlines()


def column_heights(lines: list[str]) -> list[int]:
    """Each column's bar height in eighths of a row, read from the bars right of the scale."""
    rows = [line.split("┤", 1)[1] for line in lines]
    eighths = {" ": 0, **{bar: level for level, bar in enumerate(BARS, 1)}}
    return [sum(eighths[row[column]] for row in rows) for column in range(len(rows[0]))]


def test_an_improving_score_rises_between_its_worst_and_best_values():
    lines = chart_lines(chart_text([0.61, 0.61, 0.72, 0.9, 0.93], "roc_auc", False, 60))
    assert len(lines) == ROWS and all(len(line) == 60 for line in lines)
    assert lines[0].startswith("best roc_auc so far") and "0.93 ┤" in lines[0]
    assert lines[1].startswith("(higher is better)") and "0.61 ┤" in lines[1]
    heights = column_heights(lines)
    assert len(set(heights)) > 2 and heights == sorted(heights)
    assert heights[0] == 1 and heights[-1] == 8 * ROWS


def test_a_lower_is_better_score_is_drawn_rising_with_its_best_value_on_top():
    lines = chart_lines(chart_text([0.5, 0.42, 0.42, 0.1], "rmse", True, 50))
    assert lines[0].startswith("best rmse so far") and "0.1 ┤" in lines[0]
    assert lines[1].startswith("(lower is better)") and "0.5 ┤" in lines[1]
    heights = column_heights(lines)
    assert heights == sorted(heights) and heights[0] < heights[-1]


def test_a_long_series_is_squeezed_to_the_width_and_ends_on_the_best():
    series = [0.5 + i / 2000 for i in range(1000)]
    lines = chart_lines(chart_text(series, "accuracy", False, 40))
    heights = column_heights(lines)
    assert len(lines[0]) == 40 and len(heights) == 40 - len("best accuracy so far 0.9995 ┤")
    assert heights == sorted(heights) and heights[-1] == 8 * ROWS
    assert "0.9995 ┤" in lines[0] and "0.5 ┤" in lines[1]


def test_a_flat_series_and_an_empty_one_say_so():
    lines = chart_lines(chart_text([0.8, 0.8], "accuracy", False, 40))
    assert "0.8 ┤" in lines[0] and "0.8 ┤" in lines[1] and len(set(column_heights(lines))) == 1
    assert chart_text([], "accuracy", False, 40).plain == "best accuracy so far: no valid node yet"


async def test_the_run_screen_charts_the_best_so_far_with_its_scale():
    log = InMemoryEventLog()
    history = History("chart").node(0, "draft", score=0.6).node(1, "improve", (0,), score=None)
    history.node(2, "improve", (0,), score=0.7).node(3, "improve", (2,), score=0.65).node(4, "improve", (2,), score=0.9)
    for event in history.events:
        await log.append(event)
    app = AiradApp(log=log, run_id="chart")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await until(pilot, lambda: screen.caught_up and len(screen.state.nodes) == 5, what="five nodes")
        chart = screen.query_one("#chart")
        await until(pilot, lambda: "0.9 ┤" in str(chart.render()), what="the chart")
        lines = str(chart.render()).splitlines()
        assert lines[0].startswith("best roc_auc so far") and lines[1].startswith("(higher is better)")
        assert "0.6 ┤" in lines[1]
        heights = column_heights(lines)
        assert heights == sorted(heights) and len(set(heights)) == 3, "0.6, then 0.7, then 0.9"
