"""The one command line, ``smematch``: serve, generate, import, recommend, train, compare, promote, batch...

Each group of commands lives in ``service/commands/<group>.py`` with a ``register(app)`` function; the
commands are thin: they validate, call one library function and shape its result.
"""

from __future__ import annotations

import importlib
import logging

import typer

__all__ = ["app", "main"]

COMMAND_MODULES = ("data", "store", "setup", "recommend", "train", "serve", "batch", "realdata")

app = typer.Typer(
    name="smematch",
    help="Match small and micro enterprises with the institutions that can solve their problems.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)



@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens (to standard error)."),
) -> None:
    """Match small and micro enterprises with the institutions that can solve their problems."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


for _name in COMMAND_MODULES:
    importlib.import_module(f"service.commands.{_name}").register(app)


def main() -> None:
    app()
