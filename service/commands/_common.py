"""Shared helpers of the CLI commands: how errors are shown and how the process exits."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from matching.errors import InvalidInput, SmematchError

MAX_SHOWN_ISSUES = 50  # a file with thousands of bad rows should not flood the terminal
err_console = Console(stderr=True)
out_console = Console()


def fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn smematch's own errors into a clear message and a non-zero exit, never a traceback."""
    try:
        yield
    except InvalidInput as error:
        heading = f"[bold red]error:[/] {len(error.issues)} problem(s) in the input:"
        err_console.print(heading, highlight=False, soft_wrap=True)
        for issue in error.issues[:MAX_SHOWN_ISSUES]:
            err_console.print(f"  - {issue}", highlight=False, markup=False, soft_wrap=True)
        if len(error.issues) > MAX_SHOWN_ISSUES:
            err_console.print(f"  ... and {len(error.issues) - MAX_SHOWN_ISSUES:,} more", highlight=False)
        raise typer.Exit(2) from None
    except SmematchError as error:
        raise fail(str(error)) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
