"""The ``nlpia-lstm`` command: one library call per command.

Arguments are checked by argparse; the library checks the rest before any expensive work. Errors
caused by bad input print one line and exit with status 2; an interrupt exits with 130, and an
interrupted grid keeps every row it has written. Progress is logged to standard error
(``--quiet`` keeps only warnings, ``--verbose`` adds debugging lines and the backend's own);
results go to standard output.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.abc
import importlib.util
import logging
import math
import os
import sys
from pathlib import Path

from . import __version__
from .cluster import default_workers, native_stderr_hidden
from .errors import DataError, NlpiaLstmError

DEFAULT_CONFIG = Path("experiments") / "table_19b.toml"
DEFAULT_TRANSLATOR = Path("models") / "translate_spa-attention.keras"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error of the command."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(value: str) -> int:
    """argparse type for counts: a positive integer."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def _positive_float(value: str) -> float:
    """argparse type for rates and temperatures: a finite positive number."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return number


def _configure_output(args: argparse.Namespace) -> None:
    """Log the package's progress to stderr at the level the user asked for."""
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    package = logging.getLogger("nlpia_lstm")
    package.handlers[:] = [handler]
    package.setLevel(level)
    package.propagate = False
    if not args.verbose:
        # TensorFlow's C++ chatter (CUDA probing, and on TF 2.21 a harmless "NodeDef mentions
        # attribute use_unbounded_threadpool" error line as every fit starts) drowns the
        # progress lines. Errors that matter also raise Python exceptions, which reach the
        # user as one line. --verbose shows them all. The level must be set before TensorFlow
        # is imported; the lines its native libraries write while they load come before it is
        # read at all, so _QuietTensorFlowImport keeps those off the terminal.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # Python-side warnings such as "tf.function retracing" (the translator's beam search
        # calls predict on batches of changing size, as it must).
        logging.getLogger("tensorflow").setLevel(logging.ERROR)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Import TensorFlow, whenever the library first does, with its start-up lines hidden.

    TensorFlow's native libraries log (oneDNN, CUDA probing, CPU features) as they load,
    before ``TF_CPP_MIN_LOG_LEVEL`` or absl's settings are read, so no environment variable
    silences them. This finder sits first on ``sys.meta_path`` and, for the one import of the
    ``tensorflow`` package, runs the package's loading with
    :func:`~nlpia_lstm.cluster.native_stderr_hidden`.
    Commands that never need TensorFlow never pay for it.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        self.remove()
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            load = spec.loader.exec_module

            def exec_module(module):
                with native_stderr_hidden():
                    load(module)

            spec.loader.exec_module = exec_module
        return spec

    def install(self) -> None:
        if "tensorflow" not in sys.modules and self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"nlpia-lstm: {record.levelname.lower()}: {message}"
        return message


def _keras_verbosity(args: argparse.Namespace) -> int:
    """Keras's fit verbosity: nothing when quiet, a bar on a terminal, else a line per epoch."""
    if args.quiet:
        return 0
    return 1 if sys.stderr.isatty() else 2


def _with_path(settings, path: str | None):
    return dataclasses.replace(settings, path=path) if path else settings


def cmd_grid(args: argparse.Namespace) -> int:
    from .config import load_config
    from .grid import run_grid

    exp = load_config(args.config)
    exp = dataclasses.replace(exp, data=_with_path(exp.data, args.data),
                              vectors=_with_path(exp.vectors, getattr(args, "vectors", None)))
    csv_path = run_grid(exp, args.results_dir, workers=args.workers or default_workers(),
                        scheduler=args.scheduler,
                        save_models=args.save_models, progress=not args.quiet,
                        verbose=_keras_verbosity(args))
    print(f"results: {csv_path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    for what, path in write_report(args.csv, args.out).items():
        print(f"{what}: {path}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .config import load_config

    if not Path(args.config).is_file():
        raise NlpiaLstmError(f"no config at {args.config}: run this from a clone of the project, "
                             "or give --config")
    cmd_grid(args)
    args.csv = Path(args.results_dir) / f"{load_config(args.config).name}.csv"
    return cmd_report(args)


def cmd_fetch(args: argparse.Namespace) -> int:
    from .data import IMDB, SPA_ENG, fetch

    print(fetch({"imdb": IMDB, "spa-eng": SPA_ENG}[args.dataset], progress=not args.quiet))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from .gates.review import inspect_review, plot_gates, write_csv
    from .saving import check_writable, read_sidecar

    out = check_writable(args.out, "--out", folder=True)
    read_sidecar(args.model, "classifier")  # a missing or corrupt model fails before Keras
    text = sys.stdin.read() if args.text == "-" else args.text
    result = inspect_review(args.model, text, layer=args.layer)
    stem = args.name or f"{result.model_name}-gates"
    csv_path = write_csv(result, out / f"{stem}.csv", units=args.units)
    png_path = plot_gates(result, out / f"{stem}.png", units=args.units)
    print(f"prediction: {result.probability:.4f} (probability positive)")
    print(f"tokens: {result.n_tokens} in the text, {len(result.tokens)} read by the model "
          f"({result.n_unknown} without a word vector, {result.n_cut} past maxlen "
          f"{result.maxlen})")
    print(f"reference vs Keras: max |h difference| = {result.max_abs_diff:.2g}")
    print(f"csv: {csv_path}\nheatmap: {png_path}")
    return 0


def _epoch_list(value: str) -> tuple[int, ...]:
    """argparse type for ``--sample-at``: epochs separated by commas, such as ``6,30``."""
    try:
        epochs = tuple(int(part) for part in value.split(","))
    except ValueError:
        epochs = ()
    if not epochs or min(epochs) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive epochs separated by commas, such "
                                         f"as 6,30, got {value!r}")
    return epochs


def cmd_train_generator(args: argparse.Namespace) -> int:
    from .generation import run_generator
    from .saving import check_writable

    if args.sample_at and not args.samples:
        raise NlpiaLstmError("--sample-at needs --samples MD, the file the samples go to")
    for option, path in (("--out", args.out), ("--loss-csv", args.loss_csv),
                         ("--samples", args.samples)):
        if path:
            check_writable(path, option)
    written = run_generator(
        args.out, epochs=args.epochs, round_epochs=args.round_epochs, sample_at=args.sample_at,
        batch_size=args.batch_size, maxlen=args.maxlen, step=args.step, units=args.units,
        learning_rate=args.learning_rate, seed=args.seed, max_chars=args.max_chars,
        nltk_data=args.nltk_data, loss_csv=args.loss_csv, samples=args.samples,
        sample_length=args.sample_length, verbose=_keras_verbosity(args))
    for name, path in written.items():
        print(f"{name.replace('_', ' ')}: {path}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    if not args.seed_text:
        raise DataError("the seed text is empty: give a few characters to start from")
    from .generation import generate, load_generator
    from .saving import read_sidecar

    read_sidecar(args.model, "generator")  # a missing model fails before Keras loads
    model, chars, maxlen, lower = load_generator(args.model)
    text = generate(model, chars, args.seed_text, length=args.length,
                    temperature=args.temperature, seed=args.seed, maxlen=maxlen, lower=lower)
    print(args.seed_text + text)
    return 0


def cmd_train_translator(args: argparse.Namespace) -> int:
    from .config import load_translation_config
    from .translation.experiment import run_experiment

    exp = load_translation_config(args.config)
    exp = dataclasses.replace(exp, data=_with_path(exp.data, args.data))
    csv_path = run_experiment(exp, args.results_dir, args.models_dir,
                              workers=args.workers or default_workers(),
                              scheduler=args.scheduler, progress=not args.quiet,
                              verbose=_keras_verbosity(args))
    print(f"results: {csv_path}")
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    from .saving import check_writable, read_sidecar

    many = args.text == ["-"]
    texts = sys.stdin.read().splitlines() if many else [" ".join(args.text)]
    if not any(text.strip() for text in texts):
        raise DataError("nothing to translate: the input is empty")
    if args.attention_plot:
        if many:
            raise NlpiaLstmError("--attention-plot draws one sentence: give it as an argument, "
                                 "not on standard input")
        check_writable(args.attention_plot, "--attention-plot")
    read_sidecar(args.model, "translator")  # a missing model fails before Keras loads
    from .translation.model import load_translator, plot_attention

    translator = load_translator(args.model)
    if args.attention_plot and translator.variant != "attention":
        raise NlpiaLstmError(f"--attention-plot needs an attention model; {args.model} has the "
                             f"{translator.variant!r} decoder")
    if many:  # one translation per line, greedy in batches, the beam one sentence at a time
        translations, unknown = translator.translate_many(texts, beam_width=args.beam)
    else:
        translation, unknown = translator.translate(texts[0], beam_width=args.beam)
        translations = [translation]
    if unknown:
        words = ", ".join(f'"{word}"' for word in dict.fromkeys(unknown))
        logging.getLogger("nlpia_lstm").warning("unknown word(s) read as <unk>: %s", words)
    print("\n".join(translations))
    if args.attention_plot:
        source, target, weights = translator.attention(texts[0], beam_width=args.beam)
        path = plot_attention(source, target, weights, args.attention_plot)
        logging.getLogger("nlpia_lstm").info("attention plot: %s", path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nlpia-lstm", description="Reproduce, run and extend the LSTM chapter "
                     "of NLP in Action: experiment grids, reports, text generation, translation "
                     "and LSTM gate traces.")
    parser.add_argument("--version", action="version", version=f"nlpia-lstm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    output = _Parser(add_help=False)
    talk = output.add_mutually_exclusive_group()
    talk.add_argument("-q", "--quiet", action="store_true", help="no progress, warnings only")
    talk.add_argument("-v", "--verbose", action="store_true",
                      help="debugging lines too, and the backend's own log lines")

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, parents=[output])
        p.set_defaults(func=func)
        return p

    def where_options(p: argparse.ArgumentParser, runs: str) -> None:
        p.add_argument("--workers", type=_positive_int, metavar="N",
                       help=f"run the {runs} on a local Dask cluster of N worker processes; 1 "
                       "runs them in this process, one after another (default: "
                       "$NLPIA_LSTM_WORKERS, else every core: on 2 cores the table took 23.5 "
                       "min on 2 workers, 30.3 min in one process, at 2.5 times less memory; "
                       "see benchmarks/README.md)")
        p.add_argument("--scheduler", metavar="ADDRESS", help=f"run the {runs} on the running "
                       "Dask cluster at ADDRESS (tcp://HOST:PORT) instead")

    def grid_options(p: argparse.ArgumentParser) -> None:
        where_options(p, "cells")
        p.add_argument("--results-dir", default="results", help="where <experiment>.csv goes")
        p.add_argument("--data", help="IMDB archive or aclImdb/ folder (default: found or "
                       "downloaded, see README)")
        p.add_argument("--save-models", metavar="DIR", help="save each trained model here "
                       "(.keras, with its .json word list); the workers write them, so on a "
                       "cluster DIR must be shared")

    p = command("grid", cmd_grid, "run every cell of an experiment config")
    p.add_argument("config", help="experiment config (TOML), e.g. experiments/table_19b.toml")
    grid_options(p)
    p.add_argument("--vectors", help="word2vec file to use instead of the config's vectors")

    p = command("report", cmd_report, "Markdown table and plot of a results CSV vs published")
    p.add_argument("csv", help="results CSV written by 'grid'")
    p.add_argument("--out", help="folder for the .md and .png (default: beside the CSV)")

    p = command("reproduce", cmd_reproduce, "run the lecture's table grid, then report it")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="default: %(default)s")
    grid_options(p)
    # Apart from results/, which holds the project's own published run: a user's run starts
    # its own CSV instead of adding rows to that one.
    p.set_defaults(results_dir=str(Path("results") / "reproduced"), out=None)

    p = command("fetch", cmd_fetch, "download and check a data set into the cache")
    p.add_argument("dataset", choices=["imdb", "spa-eng"])

    p = command("inspect", cmd_inspect, "trace an LSTM's gates token by token over one review")
    p.add_argument("model", help="a word-level LSTM saved by 'grid --save-models' (.keras)")
    p.add_argument("text", help="the review text, or - to read it from standard input")
    p.add_argument("--out", default=".", help="folder for the CSV and PNG (default: current)")
    p.add_argument("--name", help="file name stem of the outputs (default: <model stem>-gates)")
    p.add_argument("--units", type=_positive_int, help="keep only the first N units "
                   "(default: all)")
    p.add_argument("--layer", type=_positive_int, default=1, help="which stacked LSTM, from 1 "
                   "(default: %(default)s)")

    p = command("train-generator", cmd_train_generator,
                "train the chapter's character LSTM on Shakespeare (NLTK Gutenberg), in rounds; "
                "a rerun resumes")
    p.add_argument("--out", required=True, metavar="MODEL",
                   help="model file, saved after every round (.keras; its .json vocabulary and "
                   "record of the run go beside it); a rerun with the same settings resumes "
                   "the run saved there")
    p.add_argument("--epochs", type=_positive_int, default=30,
                   help="epochs in all (default: %(default)s, the chapter's)")
    p.add_argument("--round-epochs", type=_positive_int, default=6, metavar="N",
                   help="epochs per round: the model is saved, the loss CSV written, and "
                   "samples taken as a round ends (default: %(default)s, the chapter's 5 x 6)")
    p.add_argument("--sample-at", type=_epoch_list, metavar="EPOCHS",
                   help="write samples after these epochs, each a round's end, e.g. 6,30 "
                   "(default: the first round's end and the last epoch)")
    p.add_argument("--batch-size", type=_positive_int, default=128, help="default: %(default)s")
    p.add_argument("--maxlen", type=_positive_int, default=40,
                   help="characters per window (default: %(default)s)")
    p.add_argument("--step", type=_positive_int, default=3,
                   help="characters between window starts (default: %(default)s)")
    p.add_argument("--units", type=_positive_int, default=128, help="default: %(default)s")
    p.add_argument("--learning-rate", type=_positive_float, default=0.01,
                   help="RMSprop's (default: %(default)s)")
    p.add_argument("--max-chars", type=_positive_int, metavar="N",
                   help="train on the first N characters only (default: all 375,542)")
    p.add_argument("--seed", type=int, default=0, help="weights, shuffling and samples")
    p.add_argument("--nltk-data", metavar="DIR",
                   help="folder holding corpora/gutenberg (default: NLTK's search path)")
    p.add_argument("--loss-csv", metavar="CSV", help="write the loss per epoch here, "
                   "rewritten as each round ends")
    p.add_argument("--samples", metavar="MD", help="write texts generated at temperatures 0.2, "
                   "0.5, 1.0 here, one section per epoch of --sample-at")
    p.add_argument("--sample-length", type=_positive_int, default=400,
                   help="characters per sample (default: %(default)s)")

    p = command("generate", cmd_generate, "write text with a model saved by train-generator")
    p.add_argument("seed_text", help="text to start from (lower-cased, as in training)")
    p.add_argument("--model", required=True, help="a .keras file written by train-generator")
    p.add_argument("--temperature", type=_positive_float, default=0.5,
                   help="default: %(default)s")
    p.add_argument("--length", type=_positive_int, default=400,
                   help="characters to write (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampler (default: 0)")

    p = command("train-translator", cmd_train_translator, "train and compare English -> "
                "Spanish LSTM encoder-decoders (greedy and beam search)")
    p.add_argument("config", help="experiment config (TOML), e.g. experiments/translate_spa.toml")
    where_options(p, "decoder variants")
    p.add_argument("--data", help="spa-eng.zip or spa.txt (default: found or downloaded)")
    p.add_argument("--results-dir", default="results", help="where <experiment>.csv goes")
    p.add_argument("--models-dir", default="models", help="where <experiment>-<variant>.keras "
                   "and .json go; the workers write them, so on a cluster it must be shared "
                   "(default: %(default)s)")

    p = command("translate", cmd_translate, "translate English to Spanish with a trained model")
    p.add_argument("text", nargs="*", help="the English sentence, or - to translate standard "
                   "input, one sentence per line")
    p.add_argument("--model", default=str(DEFAULT_TRANSLATOR), help="a .keras file written by "
                   "train-translator (default: %(default)s)")
    p.add_argument("--beam", type=_positive_int, default=4, metavar="N",
                   help="beam width; 1 decodes greedily (default: %(default)s)")
    p.add_argument("--attention-plot", metavar="PNG", help="also draw where each output piece "
                   "looked in the input (attention models only)")
    return parser


def _one_line(message: str) -> str:
    """A message on one line: a library's multi-line text joined with semicolons."""
    return "; ".join(line.strip() for line in str(message).splitlines() if line.strip())


def _os_error(exc: OSError) -> str:
    """``PATH: reason`` for a file-system error, as ``ls`` or ``cp`` would put it."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    paths = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
    return f"{paths}: {reason}" if paths else reason


def _kept_rows(args: argparse.Namespace) -> str:
    """What an interrupt leaves behind: the rows already in the command's results CSV."""
    try:
        if args.command in ("grid", "reproduce"):
            from .config import load_config

            csv_path = Path(args.results_dir) / f"{load_config(args.config).name}.csv"
        elif args.command == "train-translator":
            from .config import load_translation_config

            csv_path = Path(args.results_dir) / f"{load_translation_config(args.config).name}.csv"
        else:
            return ""
        with open(csv_path, encoding="utf-8") as f:
            rows = sum(1 for _ in f) - 1
    except (OSError, UnicodeDecodeError, NlpiaLstmError):
        return ""
    if rows <= 0:
        return ""
    return f"; the {rows} row(s) in {csv_path} are kept and a rerun skips them"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    0 on success; 2 for bad input (arguments, configs, data, model files, file-system errors
    such as a folder that cannot be written), with one line on stderr; 130 on an interrupt.
    """
    args = build_parser().parse_args(argv)
    _configure_output(args)
    quiet_import = _QuietTensorFlowImport()
    if not args.verbose:
        quiet_import.install()
    try:
        return args.func(args)
    except NlpiaLstmError as exc:
        print(f"nlpia-lstm: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"nlpia-lstm: error: {_one_line(_os_error(exc))}", file=sys.stderr)
        return 2
    except MemoryError:
        print("nlpia-lstm: error: out of memory: use smaller settings (maxlen, units, "
              "max_reviews, vector_size) or a machine with more memory", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # On a terminal, a progress bar may hold the cursor mid-line: clear that line first.
        start = "\r\x1b[K" if sys.stderr.isatty() else ""
        print(f"{start}nlpia-lstm: interrupted{_kept_rows(args)}", file=sys.stderr)
        return 130
    finally:
        quiet_import.remove()


if __name__ == "__main__":
    sys.exit(main())
