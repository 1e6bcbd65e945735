"""Chart specs for results that are numbers by category or by time, and a PNG renderer.

    >>> chart_spec(["region", "sales"], [("north", 10.0), ("south", 7.5)])
    {'kind': 'bar', 'x': 'region', 'y': 'sales'}
    >>> chart_spec(["month", "sales"], [("2024-01", 3), ("2024-02", 4)])
    {'kind': 'line', 'x': 'month', 'y': 'sales'}
    >>> chart_spec(["name"], [("a",), ("b",)]) is None
    True
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

TIME_LIKE = re.compile(r"^(\d{4}([-/]\d{1,2}([-/]\d{1,2})?)?|\d{4}[- ]?Q[1-4]|Q[1-4]([- ]\d{4})?)", re.IGNORECASE)


def _numeric(value) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def chart_spec(columns: list[str], rows: list[tuple]) -> dict | None:
    """{kind, x, y} when one column is a category or time and another is numeric, else None."""
    if len(columns) < 2 or len(rows) < 2:
        return None
    numeric = [i for i in range(len(columns)) if all(_numeric(r[i]) or r[i] is None for r in rows)
               and any(_numeric(r[i]) for r in rows)]
    labels = [i for i in range(len(columns)) if i not in numeric]
    if not numeric or not labels:
        return None
    x, y = labels[0], numeric[-1]
    time_axis = all(TIME_LIKE.match(str(r[x])) for r in rows)
    return {"kind": "line" if time_axis else "bar", "x": columns[x], "y": columns[y]}


def render_chart_png(columns: list[str], rows: list[tuple], chart: dict, path: str | Path) -> Path:
    """Draw `chart` (from `chart_spec`) for the result into a PNG file; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xi, yi = columns.index(chart["x"]), columns.index(chart["y"])
    xs = [str(r[xi]) for r in rows]
    ys = [float(r[yi]) if r[yi] is not None else 0.0 for r in rows]
    figure, axis = plt.subplots(figsize=(6, 3.5), dpi=100)
    (axis.plot(xs, ys, marker="o") if chart["kind"] == "line" else axis.bar(xs, ys))
    axis.set_xlabel(chart["x"])
    axis.set_ylabel(chart["y"])
    axis.tick_params(axis="x", labelrotation=30)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    plt.close(figure)
    return path
