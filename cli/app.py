"""Entry point: the typer app, global flags, and the translation of errors into exit codes.

Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or configuration error, 3 a scope
could not be scanned, 4 internal error (a bug: run with --debug for the traceback).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Annotated

import click
import typer
from nhiwarden import __version__
from nhiwarden.errors import NhiwardenError
from nhiwarden.redact import redact
from rich.console import Console

EXIT_INTERNAL = 4

app = typer.Typer(
    name="nhiwarden",
    help="Govern non-human identities: find unused, dormant, over-privileged and static-secret service "
    "identities across AWS, GCP, Azure, Kubernetes and Vault/OpenBao.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nhiwarden {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Log API calls and show tracebacks.")] = False,
) -> None:
    _state["debug"] = debug or bool(os.environ.get("NHIWARDEN_DEBUG"))
    if _state["debug"]:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
        for noisy in ("botocore", "urllib3", "hpack", "azure", "google", "kubernetes"):
            logging.getLogger(noisy).setLevel(logging.INFO)
    else:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# Each command module has register(app). Modules still being built may be absent from a build.
COMMANDS = ("scan", "rules_cmd", "doctor", "demo", "report_cmd", "merge_cmd", "diff_cmd", "plan_cmd")
for _name in COMMANDS:
    try:
        _module = importlib.import_module(f"{__package__}.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"{__package__}.{_name}":
            raise
        continue
    _module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; never let a traceback reach the user unless --debug asks for it."""
    err = Console(stderr=True, soft_wrap=True)
    command = typer.main.get_command(app)
    try:
        rc = command.main(args=argv, prog_name="nhiwarden", standalone_mode=False)
    except click.exceptions.Exit as exc:
        rc = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        rc = 2
    except click.exceptions.Abort:
        err.print("aborted")
        rc = 130
    except NhiwardenError as exc:
        if _state["debug"]:
            err.print_exception()
        err.print(f"[bold red]error:[/] {redact(exc)}", highlight=False, markup=True)
        rc = exc.exit_code
    except Exception as exc:
        if _state["debug"]:
            err.print_exception()
        err.print(
            f"[bold red]internal error:[/] {redact(f'{type(exc).__name__}: {exc}')} "
            "(run with --debug for the traceback)",
            highlight=False,
        )
        rc = EXIT_INTERNAL
    code = rc if isinstance(rc, int) else 0
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
