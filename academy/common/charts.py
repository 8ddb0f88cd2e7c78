"""Geometry of server-side SVG bar charts (no JavaScript, no library): the template
draws one ``<rect>`` per bar (see ``templates/staff/dashboard.html``)."""

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
