"""Names next to points without overlaps: each label takes the first place around its point
(above, below, right, left, then further out with a thin leader line) where it covers no
other label and no other point. Plotly places text by points, not pixels, and leaves
neighbours' names on top of each other; this works in the plot's pixels (estimated)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CHAR_PX = 6.6  # a 12 px label's average character width
LINE_PX = 15  # its height, with a little air
MARKER_PX = 16  # the box a marker occupies


@dataclass(frozen=True)
class Placement:
    dx: float  # the label's centre from its point, pixels to the right
    dy: float  # pixels down
    leader: bool  # far enough from its point to need a line to it


def text_box(cx: float, cy: float, text: str, size_px: float = 12) -> tuple:
    """The box a text of `size_px` centred at (cx, cy) covers."""
    return _box(cx, cy, CHAR_PX * size_px / 12 * len(text) + 4, LINE_PX * size_px / 12)


def _box(cx: float, cy: float, w: float, h: float) -> tuple[float, float, float, float]:
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def spread_labels(
    points: list[tuple[float, float]],
    names: list[str],
    obstacles: Sequence[tuple[float, float]] = (),
    blocked: Sequence[tuple[float, float, float, float]] = (),
) -> list[Placement]:
    """A place for each name, by the points' pixel positions (x right, y down); `obstacles`:
    other markers no label may cover; `blocked`: other boxes (x0, y0, x1, y1) likewise."""
    markers = [_box(x, y, MARKER_PX, MARKER_PX) for x, y in points]
    fixed = [_box(x, y, MARKER_PX, MARKER_PX) for x, y in obstacles] + list(blocked)
    taken: list[tuple] = []
    out: list[Placement | None] = [None] * len(points)

    # crowded points first: they have the fewest free places
    def crowd(i: int) -> int:
        x, y = points[i]
        return -sum(abs(x - a) < 60 and abs(y - b) < 30 for a, b in points)

    for i in sorted(range(len(points)), key=crowd):
        x, y = points[i]
        w = CHAR_PX * len(names[i]) + 4
        near = [(0, -13), (0, 13), (w / 2 + 10, 0), (-w / 2 - 10, 0)]
        far = [(dx, dy) for dy in (-30, 30, -48, 48, -66, 66)
               for dx in (0, w / 2 + 12, -w / 2 - 12)]  # fmt: skip
        choice = None
        for dx, dy in near + far:
            box = _box(x + dx, y + dy, w, LINE_PX)
            others = [m for j, m in enumerate(markers) if j != i]
            if not any(_overlap(box, o) for o in taken + others + fixed):
                choice = (dx, dy)
                break
        dx, dy = choice or (0, -13)  # nowhere free: above, as before
        taken.append(_box(x + dx, y + dy, w, LINE_PX))
        out[i] = Placement(dx, dy, leader=abs(dy) > 20)
    return [p for p in out if p is not None]
