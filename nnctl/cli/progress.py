"""A progress bar on stderr for long runs, shown only when stderr is a terminal."""
from __future__ import annotations

import contextlib
import time


@contextlib.contextmanager
def progress_for(reader, delay: float = 1.0):
    """Yields `advance()`, to call after each batch; the bar appears after `delay` seconds."""
    from nnctl.cli.console import stderr_is_terminal

    if reader is None or not stderr_is_terminal():
        yield lambda: None
        return
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                               TimeRemainingColumn, TransferSpeedColumn)

    from nnctl.cli.console import rich_console

    progress = Progress(TextColumn("[bold]forward[/]"), BarColumn(), DownloadColumn(),
                        TransferSpeedColumn(), TimeRemainingColumn(),
                        console=rich_console(stderr=True), transient=True)
    start = time.monotonic()
    task = None
    try:
        def advance():
            nonlocal task
            if time.monotonic() - start < delay:
                return
            if task is None:
                progress.start()
                task = progress.add_task("forward", total=reader.total_bytes)
            progress.update(task, completed=reader.bytes_read)

        yield advance
    finally:
        if task is not None:
            progress.stop()
