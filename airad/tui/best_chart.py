"""The best validation score so far as a bar chart with its scale: the metric, which way is better, and
the worst and best values beside the bottom and the top of the bars. Better is always drawn up."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from airad.tui.labels import score

BARS = "▁▂▃▄▅▆▇█"
ROWS = 2


def column_values(values: Sequence[float], width: int) -> list[float]:
    """One value per column: a short series stretched over `width` columns, a long one squeezed (each
    column shows the last value of its share, the best so far for a best-so-far series)."""
    count = len(values)
    return [values[((column + 1) * count - 1) // width] for column in range(width)]


def bar_heights(values: Sequence[float], lower_is_better: bool, levels: int) -> list[int]:
    """Each value as a bar height from 1 (the worst value of the series) to `levels` (the best), so that
    an improvement rises whichever way the metric points; every bar is 1 when the series is flat."""
    worst, best = (max(values), min(values)) if lower_is_better else (min(values), max(values))
    if best == worst:
        return [1] * len(values)
    return [1 + round((value - worst) / (best - worst) * (levels - 1)) for value in values]


def bar_rows(heights: Sequence[int], rows: int) -> list[str]:
    """Bars `heights` eighths of a row tall, as `rows` lines of block characters, the top line first."""
    return ["".join(bar_cell(height - 8 * row) for height in heights) for row in reversed(range(rows))]


def bar_cell(eighths: int) -> str:
    """The block character filled `eighths` eighths from the bottom (blank at 0 or less, full from 8)."""
    return " " if eighths <= 0 else BARS[min(eighths, 8) - 1]


def chart_text(series: Sequence[float], metric: str, lower_is_better: bool, width: int) -> Text:
    """The chart in `width` columns: per line, a caption, a scale value (the best at the top, the worst
    at the bottom) and the bars of the best score after each valid node."""
    metric = metric or "score"
    if not series:
        return Text(f"best {metric} so far: no valid node yet", style="dim")
    direction = "lower is better" if lower_is_better else "higher is better"
    captions = (f"best {metric} so far", f"({direction})")
    worst, best = (max(series), min(series)) if lower_is_better else (min(series), max(series))
    scale = (score(best), score(worst))
    caption_width, scale_width = max(map(len, captions)), max(map(len, scale))
    bars_width = max(0, width - caption_width - scale_width - 3)
    heights = bar_heights(column_values(series, bars_width), lower_is_better, 8 * ROWS) if bars_width else []
    text = Text()
    for line, (caption, value, bars) in enumerate(zip(captions, scale, bar_rows(heights, ROWS), strict=True)):
        text.append(f"{caption:<{caption_width}} ", style="bold" if line == 0 else "dim")
        text.append(f"{value:>{scale_width}} ┤")
        text.append(bars + ("\n" if line < ROWS - 1 else ""), style="green")
    return text


class BestChart(Widget):
    """The best-so-far chart of a run; `show` redraws it only when what it shows changed."""

    DEFAULT_CSS = f"BestChart {{ height: {ROWS}; }}"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.shown: tuple[tuple[float, ...], str, bool] = ((), "", False)

    def show(self, series: Sequence[float], metric: str, lower_is_better: bool) -> None:
        """Chart `series`, the best `metric` after each valid node."""
        shown = (tuple(series), metric, lower_is_better)
        if shown != self.shown:
            self.shown = shown
            self.refresh()

    def render(self) -> Text:
        """The chart at the widget's width."""
        series, metric, lower_is_better = self.shown
        return chart_text(series, metric, lower_is_better, self.content_size.width)
