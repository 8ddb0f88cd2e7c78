"""The geometry of the server-side SVG step chart (``academy.common.charts.step_chart``),
drawn by the skill progress pages of the parent portal and the staff portal."""

import datetime

from academy.common.charts import step_chart

START = datetime.date(2026, 1, 1)
END = datetime.date(2026, 1, 11)


def test_a_single_day_sits_in_the_middle():
    chart = step_chart([(START, 2)], start=START, end=START, top=3, target=3)
    (dot,) = chart["dots"]
    assert chart["left"] < dot["x"] < chart["right"]
    assert chart["line"] == f"{dot['x']},{dot['y']}"


def test_the_line_steps_between_values():
    chart = step_chart([(START, 0), (END, 3)], start=START, end=END, top=3)
    first, last = chart["dots"]
    assert (first["x"], last["x"]) == (chart["left"], chart["right"])
    assert first["y"] > last["y"]  # a higher value sits higher
    assert chart["line"] == f"{first['x']},{first['y']} {last['x']},{first['y']} {last['x']},{last['y']}"
    assert chart["target_y"] is None


def test_one_gridline_per_value_and_the_target_on_its_line():
    chart = step_chart([(START, 1)], start=START, end=END, top=3, target=2, step=16)
    assert [line["label"] for line in chart["grid"]] == [0, 1, 2, 3]
    ys = [line["y"] for line in chart["grid"]]
    assert [ys[index] - ys[index + 1] for index in range(3)] == [16, 16, 16]
    assert chart["target_y"] == ys[2]
    assert chart["dots"][0]["title"] == "1 Jan 2026: 1 of 3"


def test_the_last_value_is_held_to_the_end_only_when_asked():
    middle = datetime.date(2026, 1, 6)
    held = step_chart([(START, 1), (middle, 2)], start=START, end=END, top=3, hold_to_end=True)
    plain = step_chart([(START, 1), (middle, 2)], start=START, end=END, top=3)
    last = held["dots"][-1]
    assert held["line"] == plain["line"] + f" {held['right']},{last['y']}"
