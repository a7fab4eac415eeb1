"""The ``nlpia-lstm`` command: run experiment grids, write reports, reproduce the table.

Errors caused by bad input print one line and exit with status 2; an interrupted grid keeps
every row it has written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .errors import NlpiaLstmError

DEFAULT_CONFIG = Path("experiments") / "table_19b.toml"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error of the command."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _quiet_backend_logs() -> None:
    # TensorFlow's start-up chatter (CUDA probing, oneDNN notes) drowns the progress lines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def cmd_grid(args: argparse.Namespace) -> int:
    import dataclasses

    from .config import load_config
    from .grid import run_grid

    exp = load_config(args.config)
    if args.data:
        exp = dataclasses.replace(exp, data=dataclasses.replace(exp.data, path=args.data))
    if args.vectors:
        exp = dataclasses.replace(exp, vectors=dataclasses.replace(exp.vectors, path=args.vectors))
    _quiet_backend_logs()
    csv_path = run_grid(exp, args.results_dir, save_models=args.save_models,
                        progress=not args.quiet)
    print(f"results: {csv_path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    md_path, png_path = write_report(args.csv, args.out)
    print(f"report: {md_path}\nplot: {png_path}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    if not Path(args.config).is_file():
        raise NlpiaLstmError(f"no config at {args.config}: run this from a clone of the project, "
                             "or give --config")
    args.vectors = None
    cmd_grid(args)
    from .config import load_config

    args.csv = Path(args.results_dir) / f"{load_config(args.config).name}.csv"
    args.out = None
    return cmd_report(args)


def cmd_fetch(args: argparse.Namespace) -> int:
    from .data import IMDB, fetch

    print(fetch({"imdb": IMDB}[args.dataset], progress=not args.quiet))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nlpia-lstm", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"nlpia-lstm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def grid_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--results-dir", default="results", help="where <experiment>.csv goes")
        p.add_argument("--data", help="IMDB archive or aclImdb/ folder (default: found or "
                       "downloaded, see README)")
        p.add_argument("--quiet", action="store_true", help="no progress output")
        p.add_argument("--save-models", metavar="DIR", help="save each trained model here "
                       "(.keras, with its .words.txt)")

    p = sub.add_parser("grid", help="run every cell of an experiment config")
    p.add_argument("config", help="experiment config (TOML), e.g. experiments/table_19b.toml")
    grid_options(p)
    p.add_argument("--vectors", help="word2vec file to use instead of the config's vectors")
    p.set_defaults(func=cmd_grid)

    p = sub.add_parser("report", help="Markdown table and plot of a results CSV vs published")
    p.add_argument("csv", help="results CSV written by 'grid'")
    p.add_argument("--out", help="folder for the .md and .png (default: beside the CSV)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("reproduce", help="run the lecture's table grid, then report it")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="default: %(default)s")
    grid_options(p)
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("fetch", help="download and check a data set into the cache")
    p.add_argument("dataset", choices=["imdb"])
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_fetch)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except NlpiaLstmError as exc:
        print(f"nlpia-lstm: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"nlpia-lstm: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nlpia-lstm: interrupted; rows already written are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
