"""The ``uctune`` command: one group, one module per subcommand.

``main(argv)`` is callable from tests and returns the exit status. Errors uctune raises on purpose
print one line (``uctune: error: ...``) and exit 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

from uctune import __version__
from uctune.errors import UctuneError

__all__ = ["cli", "main"]

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="uctune")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug logs).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: int) -> None:
    """Train, tune, evaluate and version upper-circuit classifiers, in parallel on Ray.

    Runs on a local Ray using all cores by default; pass --address (or set RAY_ADDRESS) to use a
    cluster. Start with `uctune run` on the embedded dataset.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["verbose"] = verbose
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("uctune").setLevel(level)


def _register() -> None:
    from uctune.cli import cluster, data, predict, registry, report, run, train, tune

    for module in (data, run, train, tune, report, registry, predict, cluster):
        cli.add_command(module.command)


_register()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status instead of exiting (for tests)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="uctune", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("uctune: interrupted", err=True)
        return EXIT_INTERRUPTED
    except UctuneError as exc:
        if debug:
            raise
        click.echo(f"uctune: error: {exc}", err=True)
        return EXIT_ERROR
    return 0


def entry_point() -> None:
    sys.exit(main())
