"""The braille line plot: values become dots where a reader expects them, the axes say the
scale and the time, and no value (a gap, a negative, an infinity) draws outside the plot."""

from __future__ import annotations

import math

from widgets.line_plot import LinePlot, Series, nice_top, resample, time_axis

WIDTH, HEIGHT = 24, 6  # caption, 4 rows of plot (16 levels), the time axis


def lines(series, *, top=None, span=900.0, width=WIDTH, height=HEIGHT) -> list[str]:
    plot = LinePlot()
    plot.show("CPU", series, span=span, top=top, y_format=lambda v: f"{v:g}%")
    return plot.render_text(width, height).plain.split("\n")


def dots(row: str) -> str:
    """The plot part of a row (after the y scale), one character a cell."""
    return row.split("┤", 1)[-1].split("│", 1)[-1]


def test_a_rising_line_goes_from_the_bottom_left_to_the_top_right():
    out = lines([Series("cpu", [0.0, 25.0, 50.0, 75.0, 100.0])], top=100.0)
    assert len(out) == HEIGHT and out[0] == "CPU"
    top_row, bottom_row = dots(out[1]), dots(out[4])
    assert out[1].startswith("100%┤") and out[4].startswith("  0%┤")
    assert bottom_row[0] != " " and bottom_row[-1] == " "  # starts at zero ...
    assert top_row[-1] != " " and top_row[0] == " "  # ... ends at the top
    assert all(0x2800 <= ord(c) <= 0x28FF or c == " " for row in out[1:5] for c in dots(row))


def test_a_flat_series_is_one_row_of_dots_at_its_level():
    out = lines([Series("cpu", [50.0] * 40)], top=100.0)
    filled = [i for i, row in enumerate(out[1:5]) if dots(row).strip()]
    assert len(filled) == 1  # half way up 16 levels: one row, the same in every column
    assert len(set(dots(out[1 + filled[0]]))) == 1


def test_the_time_axis_says_how_long_ago():
    out = lines([Series("cpu", [1.0, 2.0])], span=900.0, width=60)
    axis = out[-1]
    assert axis.rstrip().endswith("now") and "-5m" in axis and "-10m" in axis
    assert axis.index("-10m") < axis.index("-5m") < axis.index("now")
    assert time_axis(20, 3600).rstrip().endswith("now") and len(time_axis(20, 3600)) == 20


def test_no_samples_says_so_and_keeps_its_size():
    out = lines([Series("cpu", [math.nan] * 10)])
    assert len(out) == HEIGHT and any("no samples yet" in row for row in out)
    assert lines([]) == lines([Series("cpu", [])])


def test_gaps_negatives_and_huge_values_stay_inside_the_plot():
    values = [math.nan] * 10 + [-50.0] * 10 + [math.inf] * 10 + [1e300] * 10 + [50.0] * 8
    out = lines([Series("cpu", values)], top=100.0)
    rows = [dots(row) for row in out[1:5]]
    assert all(len(row) == len(rows[0]) for row in rows) and len(out) == HEIGHT
    cells = len(rows[0])
    first_gap_cells = cells * 10 // len(values)  # the NaN head draws nothing
    assert all(row[:first_gap_cells].strip() == "" for row in rows)
    assert rows[-1][first_gap_cells + 1] != " "  # the negative run sits on zero
    assert rows[0][cells // 2 + 1] != " "  # infinity and 1e300 at the top, not beyond it


def test_without_a_top_the_scale_fits_the_largest_value_roundly():
    out = lines([Series("cpu", [3.0, 7.0, 4.2])])
    assert out[1].startswith("10%┤")
    assert nice_top(7.0) == 10.0 and nice_top(0.0) == 1.0 and nice_top(math.nan) == 1.0 and nice_top(230) == 250


def test_squeezed_the_peaks_are_kept_and_stretched_each_value_repeats():
    assert resample([1.0, 9.0, 2.0, 3.0], 2) == [9.0, 3.0]
    assert resample([1.0, 2.0], 4) == [1.0, 1.0, 2.0, 2.0]
    assert all(math.isnan(v) for v in resample([math.nan, math.nan], 1))


def test_two_series_draw_in_their_own_styles_and_the_same_twice():
    plot = LinePlot()
    plot.show("Net", [Series("rx", [10.0] * 8, "green"), Series("tx", [90.0] * 8, "magenta")], span=60, top=100.0)
    text = plot.render_text(WIDTH, HEIGHT)
    styles = {str(span.style) for span in text.spans}
    assert {"green", "magenta"} <= styles
    again = plot.render_text(WIDTH, HEIGHT)
    assert text.plain == again.plain and text.spans == again.spans  # deterministic, for snapshots
