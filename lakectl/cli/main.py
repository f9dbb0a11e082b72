"""The lakectl command line: the root callback builds one context (``ctx.obj``, a ``LakeContext``);
each command module is a Typer app joined here with ``add_typer``.

``main()`` is the one boundary where exceptions become a line on stderr and an exit code.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated

import typer

from lakectl import __version__
from lakectl.cli import (
    command_ended,
    command_started,
    config,
    connect,
    dag,
    dbt,
    demo,
    deploy,
    image,
    job,
    maintain,
    metrics,
    pipeline,
    produce,
    query,
    schema,
    service,
    stack,
    tables,
    topic,
    verify,
)
from lakectl.cli.common import OutputOpt
from lakectl.context import LakeContext
from lakectl.errors import ExitCode, LakectlError, UsageError
from lakectl.output import Output, OutputFormat

app = typer.Typer(
    name="lakectl",
    help="A control plane for a real-time lakehouse: Kafka, Schema Registry, Flink, Iceberg, Delta, Trino, dbt.",
    no_args_is_help=True,
    add_completion=False,
    # Typer's pretty tracebacks print local variables, which can hold credentials
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Profile in lakectl.toml.",
                                                envvar="LAKECTL_PROFILE", show_envvar=True)] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    ctx.obj = LakeContext(profile=profile, debug=debug)


@app.command()
def version(output: OutputOpt = OutputFormat.table) -> None:
    """Print lakectl's version and the Python it runs on."""
    data = {"lakectl": __version__, "python": sys.version.split()[0]}
    Output(output).emit(data, table=lambda d: f"lakectl {d['lakectl']} (python {d['python']})")


# every command module, in the order of `lakectl --help` (a new group is one more name here)
for module in (stack, pipeline, produce, tables, query, verify, maintain, demo, metrics, config, topic, schema, job,
               dbt, connect, dag, image, deploy, service):
    app.add_typer(module.app)


def _print_error(message: str) -> None:
    # one line whatever the message holds (a value with a newline in it, a multi-line library message), and
    # printable whatever stderr's error handler: bytes that were not UTF-8 (a file name) show escaped
    line = " ".join(message.split()).encode("utf-8", "backslashreplace").decode("utf-8")
    sys.stderr.write(f"lakectl: error: {line}\n")


def _check_text(args: list[str]) -> None:
    """Bytes of the command line that are not UTF-8 reach Python as surrogate escapes, which no topic, subject,
    SQL or PromQL can carry to its system: only the name of an existing file may hold them."""
    for arg in args:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            value = arg.partition("=")[2] if arg.startswith("-") and "=" in arg else arg
            if not os.path.exists(value):
                raise UsageError(f"argument {os.fsencode(arg)!r} is not UTF-8 text (only an existing file's name "
                                 "may hold other bytes)") from None


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("LAKECTL_DEBUG") == "1"
    command_started()
    try:
        command = typer.main.get_command(app)
        _check_text(args)
        code = command.main(args, prog_name="lakectl", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors from the parser: bad flag, missing argument
        context = getattr(exc, "ctx", None)
        path = context.command_path if context is not None else "lakectl"
        if type(exc).__name__ == "NoArgsIsHelpError":  # `lakectl`, `lakectl topic`: the help, then the one line
            sys.stdout.write(exc.format_message() + "\n")
            _print_error(f"Missing command. (see '{path} --help')")
        else:
            _print_error(f"{exc.format_message()} (see '{path} --help')")
        code = exc.exit_code
    except typer.Abort:
        _print_error("aborted")
        code = ExitCode.INTERRUPTED
    except LakectlError as exc:
        if debug:
            traceback.print_exc()
        _print_error(exc.one_line())
        code = exc.exit_code
    except KeyboardInterrupt:
        _print_error("interrupted")
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:  # `lakectl consume ... | head`: the reader left, that is fine
        sys.stderr.close()
        code = ExitCode.OK
    except Exception as exc:  # the boundary: an unexpected failure is still one line without --debug
        if debug:
            traceback.print_exc()
        _print_error(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        code = ExitCode.FAILED
    command_ended(int(code or 0))
    sys.stdout.flush()
    raise SystemExit(int(code or 0))


if __name__ == "__main__":
    main()
