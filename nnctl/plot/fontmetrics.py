"""How wide a line of text is in Helvetica (and Arial, whose widths are the same).

SVG has no text layout of its own that a box could grow around, so the boxes are sized from
these advance widths (thousandths of the font size, printable ASCII; measured in a browser
with Liberation Sans, which is metric-compatible with both). Other characters count as a
full em: a box comes out a little wide rather than too narrow.
"""
from __future__ import annotations

_FIRST = 32
_REGULAR = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,   # !"#...
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,   # 0-9:;<=>?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,  # @A-O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,   # P-Z[\\]^_
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,   # `a-o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,        # p-z{|}~
)
_BOLD = (
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
)
# A browser without Helvetica or Arial falls back to a wider sans-serif (DejaVu Sans is
# about 12% wider): leave that much room.
FALLBACK_ROOM = 1.12


def text_width(text: str, size: float, bold: bool = False) -> float:
    """The advance width of `text` at font size `size`, in the same units as `size`."""
    table = _BOLD if bold else _REGULAR
    total = 0
    for ch in text:
        i = ord(ch) - _FIRST
        total += table[i] if 0 <= i < len(table) else 1000
    return total * size / 1000 * FALLBACK_ROOM
