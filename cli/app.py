"""Entry point: the typer app, global flags, and the translation of errors into exit codes.

Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or configuration error, 3 a scope
could not be scanned, 4 internal error (a bug: run with --debug for the traceback).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Annotated, Any

import typer
from nhiwarden import __version__
from nhiwarden.errors import NhiwardenError
from nhiwarden.redact import redact
from rich.console import Console
from typer.core import TyperGroup

EXIT_INTERNAL = 4

# Commands are imported only when invoked, so `nhiwarden --help` and `--version` stay fast and never
# load provider SDKs. name -> (module in nhiwarden.cli with register(app), one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("scan", "Scan providers (read-only) and report findings."),
    "inventory": ("scan", "List every identity and credential found, without judging them."),
    "rules": ("rules_cmd", "Describe the built-in and plugin rules."),
    "report": ("report_cmd", "Render a saved JSON report in other formats."),
    "diff": ("diff_cmd", "Compare two JSON reports: new, resolved and unchanged findings."),
    "merge": ("merge_cmd", "Merge the reports of a sharded scan into one."),
    "plan": ("plan_cmd", "Plan a remediation playbook (rotate, offboard, migrate) for findings."),
    "apply": ("plan_cmd", "Apply a reviewed plan: journaled, resumable, reversible."),
    "doctor": ("doctor", "Check credentials and every permission the scan needs."),
    "demo": ("demo", "Scan a seeded local estate (moto, OpenBao, fake K8s/GCP/Azure): no cloud needed."),
}


class LazyGroup(TyperGroup):
    """A command group that imports a command's module only when that command runs."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        module_name, short = COMMANDS[cmd_name]
        if self._listing:
            return typer.core.TyperCommand(cmd_name, help=short, short_help=short)
        module = importlib.import_module(f"{__package__}.{module_name}")
        holder = typer.Typer()
        module.register(holder)
        return typer.main.get_group(holder).get_command(ctx, cmd_name)


app = typer.Typer(
    name="nhiwarden",
    help="Govern non-human identities: find unused, dormant, over-privileged and static-secret service "
    "identities across AWS, GCP, Azure, Kubernetes and Vault/OpenBao.",
    cls=LazyGroup,
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


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; never let a traceback reach the user unless --debug asks for it."""
    err = Console(stderr=True, soft_wrap=True)
    command = typer.main.get_command(app)
    if not isinstance(command, LazyGroup):  # typer made a plain command: keep the group
        raise AssertionError("nhiwarden CLI must be a group")
    try:
        rc = command.main(args=argv, prog_name="nhiwarden", standalone_mode=False)
    except NhiwardenError as exc:
        if _state["debug"]:
            err.print_exception()
        err.print(f"[bold red]error:[/] {redact(exc)}", highlight=False, markup=True)
        rc = exc.exit_code
    except Exception as exc:
        # typer may vendor its own click: recognise its exceptions by their interface, not their class.
        kind = type(exc).__name__
        if kind == "Exit":
            rc = getattr(exc, "exit_code", 0)
        elif kind == "Abort":
            err.print("aborted")
            rc = 130
        elif callable(show := getattr(exc, "show", None)) and hasattr(exc, "exit_code"):
            show()
            rc = 2
        else:
            if _state["debug"]:
                err.print_exception()
            err.print(
                f"[bold red]internal error:[/] {redact(f'{kind}: {exc}')} (run with --debug for the traceback)",
                highlight=False,
            )
            rc = EXIT_INTERNAL
    code = rc if isinstance(rc, int) else 0
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
