"""Geometry of server-side SVG charts (no JavaScript, no library):

- ``bar_chart``: the template draws one ``<rect>`` per bar (see
  ``templates/staff/dashboard.html``);
- ``step_chart``: dated whole-number values on a 0..``top`` scale as a step line (a value
  holds until the next one), one gridline per value and an optional dashed target (see
  ``templates/grading/staff/skills_chart.html``);
- ``stacked_bar_chart``: several series stacked in each bar, with a legend (see
  ``templates/staff/finance_stacked_chart.html``)."""

import datetime


def _labels(key) -> tuple[str, str]:
    if isinstance(key, datetime.date):
        return key.strftime("%b"), key.strftime("%B %Y")
    return str(key), str(key)


def bar_chart(points: list[tuple], height: int = 140, *, bar_width: int = 40, value_format=str) -> dict:
    """``points`` are ``(key, value)`` pairs: a month (a date, labelled "Jan") or a text
    label, and a number (int or Decimal). ``value_format`` renders a value for the
    tooltip and the figure above the bar."""
    top = max((value for _, value in points), default=0) or 1
    gap = 8
    bars = []
    for index, (key, value) in enumerate(points):
        bar_height = round(value / top * (height - 20)) if value > 0 else 0
        label, title = _labels(key)
        bars.append(
            {
                "x": index * (bar_width + gap),
                "y": height - bar_height,
                "width": bar_width,
                "center": index * (bar_width + gap) + bar_width // 2,
                "height": bar_height,
                "count": value,
                "display": value_format(value),
                "label": label,
                "title": f"{title}: {value_format(value)}",
            }
        )
    return {
        "bars": bars,
        "width": len(points) * (bar_width + gap),
        "height": height,
        "total": sum((value for _, value in points), 0),
        "this_month": points[-1][1] if points else 0,
    }


def step_chart(
    points: list[tuple[datetime.date, int]],
    *,
    start: datetime.date,
    end: datetime.date,
    top: int,
    target: int | None = None,
    hold_to_end: bool = False,
    step: int = 20,
    width: int = 320,
    left: int = 22,
    right: int = 10,
    margin_top: int = 8,
) -> dict:
    """``points`` are ``(date, value)`` pairs oldest first, each value in ``0..top``,
    drawn from ``start`` to ``end`` (a single day sits in the middle). ``step`` is the
    height in pixels of one unit; ``hold_to_end`` carries the last value on to ``end``.
    The template draws ``grid`` lines, the ``line`` polyline, ``dots`` and, when given,
    the target line at ``target_y``."""
    span = (end - start).days
    plot_width = width - left - right
    bottom = margin_top + step * top

    def x(day: datetime.date) -> int:
        return left + (round((day - start).days / span * plot_width) if span > 0 else plot_width // 2)

    def y(value: int) -> int:
        return bottom - value * step

    dots = [
        {"x": x(day), "y": y(value), "value": value, "title": f"{day:%-d %b %Y}: {value} of {top}"}
        for day, value in points
    ]
    line = []
    for index, dot in enumerate(dots):
        if index:  # a value holds until the next one: a step, not a slope
            line.append(f"{dot['x']},{dots[index - 1]['y']}")
        line.append(f"{dot['x']},{dot['y']}")
    if hold_to_end and dots and span > 0:
        line.append(f"{x(end)},{dots[-1]['y']}")
    return {
        "width": width,
        "height": bottom + 22,  # room for the date labels
        "left": left,
        "right": width - right,
        "label_y": bottom + 16,
        "grid": [{"y": y(value), "label": value} for value in range(top + 1)],
        "target_y": y(target) if target is not None else None,
        "dots": dots,
        "line": " ".join(line),
        "start": start,
        "end": end,
    }


SERIES_CLASSES = 8  # ``series-0`` .. ``series-7``: the colours of stacked bars (static/css/academy.css)


def stacked_bar_chart(
    keys: list,
    series: list[tuple[str, dict]],
    height: int = 160,
    *,
    bar_width: int | None = None,
    label_format=None,
    value_format=str,
    max_labels: int = 16,
    top=None,
) -> dict:
    """Bars of several series stacked: ``keys`` are the bars in order (dates or labels),
    ``series`` ``(name, {key: value})`` pairs, the first at the bottom of each bar. Each
    series has a CSS class (``series-N``) and a legend entry with its total; each bar and
    segment a tooltip. ``label_format`` turns a key into its label (default as
    ``bar_chart``); at most ``max_labels`` labels are drawn, evenly spaced. ``top``: the
    value of a full-height bar (default the tallest bar), so charts side by side share
    one scale. ``bar_width`` defaults to about 960 units for all the bars (12 to 56 each),
    so a chart of twelve months is as wide as one of thirty days."""
    bar_width = bar_width or max(12, min(56, 960 * 4 // (5 * max(1, len(keys)))))
    gap = max(2, bar_width // 4)
    totals = [sum((values.get(key, 0) for _name, values in series), 0) for key in keys]
    top = top or max(totals, default=0) or 1
    step = max(1, -(-len(keys) // max_labels))
    bars = []
    for index, key in enumerate(keys):
        label, title = (label_format(key), _labels(key)[1]) if label_format else _labels(key)
        bottom, segments = height, []
        for number, (name, values) in enumerate(series):
            value = values.get(key, 0)
            if value <= 0:
                continue
            size = max(1, round(value / top * (height - 20)))
            bottom -= size
            segments.append(
                {
                    "y": bottom,
                    "height": size,
                    "css": f"series-{number % SERIES_CLASSES}",
                    "title": f"{title}, {name}: {value_format(value)}",
                }
            )
        bars.append(
            {
                "x": index * (bar_width + gap),
                "center": index * (bar_width + gap) + bar_width // 2,
                "width": bar_width,
                "segments": segments,
                "label": label if index % step == 0 else "",
                "title": f"{title}: {value_format(totals[index])}",
            }
        )
    legend = [
        {
            "name": name,
            "css": f"series-{number % SERIES_CLASSES}",
            "display": value_format(sum((values.get(key, 0) for key in keys), 0)),
        }
        for number, (name, values) in enumerate(series)
    ]
    return {
        "bars": bars,
        "legend": legend,
        "width": max(1, len(keys) * (bar_width + gap)),
        "height": height,
        "total": sum(totals, 0),
    }
