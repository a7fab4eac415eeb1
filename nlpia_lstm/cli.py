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
    # TensorFlow's C++ chatter (CUDA probing, and on TF 2.21 a harmless "NodeDef mentions
    # attribute use_unbounded_threadpool" error line as every fit starts) drowns the progress
    # lines. Level 3 hides its C++ error lines too: the errors that matter also raise Python
    # exceptions, which reach the user as one line. Set the variable yourself to see them all.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


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


def cmd_inspect(args: argparse.Namespace) -> int:
    from .errors import ConfigError
    from .inspection import inspect_review, plot_gates, write_csv

    if args.units is not None and args.units < 1:
        raise ConfigError(f"--units must be at least 1, got {args.units}")
    text = sys.stdin.read() if args.text == "-" else args.text
    _quiet_backend_logs()
    result = inspect_review(args.model, text, words_path=args.words, layer=args.layer)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
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


def _positive_int_arg(value: str) -> int:
    """argparse type for counts: a positive integer."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def cmd_train_generator(args: argparse.Namespace) -> int:
    import numpy as np

    from .generation import (
        load_gutenberg,
        samples_markdown,
        save_generator,
        train_generator,
        write_loss_csv,
    )

    if not args.out.endswith(".keras"):
        raise NlpiaLstmError(f"--out must name a .keras file, got {args.out}")
    text = load_gutenberg(nltk_data=args.nltk_data)
    corpus_chars = len(text)
    text = text[: args.max_chars] if args.max_chars else text
    _quiet_backend_logs()
    if not args.quiet:
        print(f"training on {len(text):,} of {corpus_chars:,} characters of Shakespeare "
              f"({args.epochs} epochs)", flush=True)
    model, chars, history = train_generator(
        text, epochs=args.epochs, batch_size=args.batch_size, maxlen=args.maxlen,
        step=args.step, units=args.units, learning_rate=args.learning_rate, seed=args.seed,
        verbose=0 if args.quiet else 1 if sys.stderr.isatty() else 2)
    vocab = save_generator(model, chars, args.out, maxlen=args.maxlen)
    print(f"model: {args.out}\nvocabulary: {vocab}")
    if args.loss_csv:
        import keras

        n_sequences = len(range(0, len(text) - args.maxlen, args.step))
        settings = {
            "corpus_chars": len(text), "n_sequences": n_sequences, "n_chars": len(chars),
            "maxlen": args.maxlen, "step": args.step, "batch_size": args.batch_size,
            "units": args.units, "learning_rate": args.learning_rate, "seed": args.seed,
            "keras_version": keras.__version__, "backend": keras.backend.backend(),
        }
        print(f"loss per epoch: {write_loss_csv(history, args.loss_csv, **settings)}")
    if args.samples:
        # As in the chapter, the seed text is a window of the training text at a random start.
        start = int(np.random.default_rng(args.seed).integers(0, len(text) - args.maxlen))
        notes = [f"Model: LSTM({args.units}) on {len(text):,} characters of Shakespeare, "
                 f"{args.epochs} epochs, final loss {history[-1]['loss']:.4f}."]
        md = samples_markdown(model, chars, text[start : start + args.maxlen], seed=args.seed,
                              length=args.sample_length, maxlen=args.maxlen,
                              title="Shakespeare samples", notes=notes)
        Path(args.samples).parent.mkdir(parents=True, exist_ok=True)
        Path(args.samples).write_text(md, encoding="utf-8")
        print(f"samples: {args.samples}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .errors import DataError

    if not args.seed_text:
        raise DataError("the seed text is empty: give a few characters to start from")
    if not Path(args.model).is_file():
        raise DataError(f"no model at {args.model}")
    _quiet_backend_logs()
    from .generation import generate, load_generator

    model, chars, maxlen, lower = load_generator(args.model)
    text = generate(model, chars, args.seed_text, length=args.length,
                    temperature=args.temperature, seed=args.seed, maxlen=maxlen, lower=lower)
    print(args.seed_text + text)
    return 0


DEFAULT_TRANSLATOR = Path("models") / "translate_spa-every_step.keras"


def cmd_train_translator(args: argparse.Namespace) -> int:
    import dataclasses

    from .translation_experiment import load_config, run_experiment

    exp = load_config(args.config)
    if args.data:
        exp = dataclasses.replace(exp, data=dataclasses.replace(exp.data, path=args.data))
    _quiet_backend_logs()
    csv_path = run_experiment(exp, args.results_dir, args.models_dir, progress=not args.quiet)
    print(f"results: {csv_path}")
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    from .errors import ConfigError, DataError

    text = " ".join(args.text)
    if not text.strip():
        raise DataError("nothing to translate: the input is empty")
    if args.beam < 1:
        raise ConfigError(f"--beam must be at least 1 (1 decodes greedily), got {args.beam}")
    from .translation_data import translator_files

    translator_files(args.model)  # fails before the slow Keras import when a file is missing
    _quiet_backend_logs()
    from .translation import load_translator

    translation, unknown = load_translator(args.model).translate(text, beam_width=args.beam)
    if unknown:
        words = ", ".join(f'"{word}"' for word in dict.fromkeys(unknown))
        print(f"nlpia-lstm: warning: unknown word(s) read as <unk>: {words}", file=sys.stderr)
    print(translation)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nlpia-lstm", description="Reproduce, run and extend the LSTM chapter "
                     "of NLP in Action: experiment grids, reports, text generation, translation "
                     "and LSTM gate traces.")
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
    # Apart from results/, which holds the project's own published run: a user's run starts
    # its own CSV instead of adding rows to that one.
    p.set_defaults(func=cmd_reproduce, results_dir=str(Path("results") / "reproduced"))

    p = sub.add_parser("fetch", help="download and check a data set into the cache")
    p.add_argument("dataset", choices=["imdb"])
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("inspect", help="trace an LSTM's gates token by token over one review")
    p.add_argument("model", help="a word-level LSTM saved by 'grid --save-models' (.keras)")
    p.add_argument("text", help="the review text, or - to read it from standard input")
    p.add_argument("--words", help="the model's word list (default: <model stem>.words.txt)")
    p.add_argument("--out", default=".", help="folder for the CSV and PNG (default: current)")
    p.add_argument("--name", help="file name stem of the outputs (default: <model stem>-gates)")
    p.add_argument("--units", type=int, help="keep only the first N units (default: all)")
    p.add_argument("--layer", type=int, default=1, help="which stacked LSTM, from 1 "
                   "(default: %(default)s)")
    p.set_defaults(func=cmd_inspect)
    p = sub.add_parser("train-generator",
                       help="train the chapter's character LSTM on Shakespeare (NLTK Gutenberg)")
    p.add_argument("--out", required=True, metavar="MODEL",
                   help="model file to write (.keras; its .vocab.json goes beside it)")
    p.add_argument("--epochs", type=_positive_int_arg, default=1, help="default: %(default)s")
    p.add_argument("--batch-size", type=_positive_int_arg, default=128, help="default: %(default)s")
    p.add_argument("--maxlen", type=_positive_int_arg, default=40,
                   help="characters per window (default: %(default)s)")
    p.add_argument("--step", type=_positive_int_arg, default=3,
                   help="characters between window starts (default: %(default)s)")
    p.add_argument("--units", type=_positive_int_arg, default=128, help="default: %(default)s")
    p.add_argument("--learning-rate", type=float, default=0.01, help="RMSprop's (default: "
                   "%(default)s)")
    p.add_argument("--max-chars", type=_positive_int_arg, metavar="N",
                   help="train on the first N characters only (default: all 375,542)")
    p.add_argument("--seed", type=int, default=0, help="weights, shuffling and samples")
    p.add_argument("--nltk-data", metavar="DIR",
                   help="folder holding corpora/gutenberg (default: NLTK's search path)")
    p.add_argument("--loss-csv", metavar="CSV", help="write the loss per epoch here")
    p.add_argument("--samples", metavar="MD",
                   help="write texts generated at temperatures 0.2, 0.5, 1.0 here")
    p.add_argument("--sample-length", type=_positive_int_arg, default=400,
                   help="characters per sample (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_train_generator)

    p = sub.add_parser("generate", help="write text with a model saved by train-generator")
    p.add_argument("seed_text", help="text to start from (lower-cased, as in training)")
    p.add_argument("--model", required=True, help="a .keras file written by train-generator")
    p.add_argument("--temperature", type=float, default=0.5, help="default: %(default)s")
    p.add_argument("--length", type=int, default=400,
                   help="characters to write (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampler (default: 0)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("train-translator", help="train and compare English -> Spanish "
                       "LSTM encoder-decoders (greedy and beam search)")
    p.add_argument("config", help="experiment config (TOML), e.g. experiments/translate_spa.toml")
    p.add_argument("--data", help="spa-eng.zip or spa.txt (default: found or downloaded)")
    p.add_argument("--results-dir", default="results", help="where <experiment>.csv goes")
    p.add_argument("--models-dir", default="models", help="where <experiment>-<variant>.keras "
                   "and .json go (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_train_translator)

    p = sub.add_parser("translate", help="translate English to Spanish with a trained model")
    p.add_argument("text", nargs="*", help="the English sentence")
    p.add_argument("--model", default=str(DEFAULT_TRANSLATOR), help="a .keras file written by "
                   "train-translator (default: %(default)s)")
    p.add_argument("--beam", type=int, default=4, metavar="N",
                   help="beam width; 1 decodes greedily (default: %(default)s)")
    p.set_defaults(func=cmd_translate)

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
