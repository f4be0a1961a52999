"""Terminal charts with plotext (act --plot, init --plot): sized to the screen, captioned above.

plotext is imported only when a chart is drawn.
"""
from __future__ import annotations

import sys


def new_figure(*, piped: tuple[int, int], spare_lines: int, max_height: int):
    """(plotext's figure, cleared and sized, width, height).

    On a terminal: as wide as it (at most 100 columns), as tall as it less `spare_lines`
    (12 to `max_height` lines); piped: `piped` (width, height).
    """
    import plotext

    from nnctl.cli.console import stdout_is_terminal

    if stdout_is_terminal():
        import shutil

        size = shutil.get_terminal_size()
        width, height = min(size.columns, 100), max(12, min(size.lines - spare_lines, max_height))
    else:
        width, height = piped
    figure = plotext.figure
    figure.clear()
    figure.plot_size(width, height)
    return figure, width, height


def captioned(figure, caption: str) -> str:
    """The built chart under its caption, in color only where stdout allows it.

    The caption goes above the chart, not in it: plotext drops titles wider than the plot.
    """
    from nnctl.cli.console import can_draw_lines, color_allowed

    chart = figure.build().string(colorless=not color_allowed(sys.stdout)).rstrip("\n")
    if not can_draw_lines(sys.stdout):   # an ASCII stdout (PYTHONIOENCODING=ascii, cp1252...)
        chart = ascii_chart(chart)
    return caption + "\n" + chart


# plotext's characters as ASCII: lines, their crossings, the curves' blocks and dots
_ASCII = {**dict.fromkeys("─━┄┈═", "-"), **dict.fromkeys("│┃┆┊║", "|"),
          **dict.fromkeys("┌┐└┘├┤┬┴┼┏┓┗┛┣┫┳┻╋╭╮╯╰", "+"),
          **dict.fromkeys("▄▀▖▗▘▝▚▞▙▛▜▟▌▐█", "#"), "•": "*", "·": "."}


def ascii_chart(chart: str) -> str:
    """A chart in ASCII: box lines as - | +, the curves' blocks as #, braille dots as *
    (blank braille as a space); anything else not ASCII as ?."""
    def char(c: str) -> str:
        if c.isascii():
            return c
        if "\u2800" <= c <= "\u28ff":      # braille: a curve drawn in dots
            return " " if c == "\u2800" else "*"
        return _ASCII.get(c, "?")

    return "".join(map(char, chart))
