"""Train and compare English -> Spanish translators: a TOML config in, CSV rows and models out.

A config reads like this (every key but ``name`` has the default shown)::

    name = "translate_spa"

    [data]              # path = spa-eng.zip or spa.txt; else found or downloaded (see data.py)
    max_tokens = 10     # keep pairs whose both sides have at most this many tokens
    max_pairs = 0       # 0: all pairs left; else about this many, whole English groups
    val_fraction = 0.1
    test_fraction = 0.1
    split_seed = 0
    min_count = 2       # rarer training tokens become <unk>
    max_vocab = 0       # 0: no limit

    [model]
    variants = ["init", "every_step"]
    embedding_dim = 128
    units = 128         # per encoder direction; the decoder has 2 * units
    encoder_layers = 2
    dropout = 0.0

    [training]
    epochs = 10
    batch_size = 64
    learning_rate = 0.001
    seed = 0

    [decoding]
    beam_width = 4
    max_output_tokens = 20
    examples = 5        # test sentences logged with their translations
    max_test_sentences = 0   # 0: score every distinct test sentence

Each decoder variant is trained once; its test-set scores for greedy and beam decoding go to
``<results_dir>/<name>.csv`` (one row each) and the model to ``<models_dir>/<name>-<variant>
.keras``. Importing this module does not import Keras.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from ..config import TranslationExperiment
from ..data import read_pairs
from ..results import ResultsFile, versions
from ..saving import check_writable
from .text import (
    Vocabulary,
    detokenize,
    encode_source,
    references,
    split_pairs,
    teacher_forcing,
)

__all__ = ["COLUMNS", "KEY_COLUMNS", "prepare", "run_experiment"]

log = logging.getLogger(__name__)

COLUMNS = [
    "experiment", "variant", "decoding", "beam_width", "bleu", "token_accuracy", "val_loss",
    "n_train", "n_val", "n_test", "n_test_sentences", "source_vocab", "target_vocab",
    "max_tokens", "max_pairs", "min_count", "embedding_dim", "units", "encoder_layers",
    "dropout", "epochs", "batch_size", "learning_rate", "train_seconds", "decode_seconds",
    "params", "seed", "split_seed", "data", "nlpia_lstm_version", "keras_version", "backend",
    "backend_version", "python_version", "platform", "finished_at",
]
# A row with the same values in these columns is the same run: a rerun skips it.
KEY_COLUMNS = [
    "experiment", "variant", "decoding", "beam_width", "n_train", "n_val", "n_test",
    "n_test_sentences", "source_vocab", "target_vocab", "max_tokens", "max_pairs", "min_count",
    "embedding_dim", "units", "encoder_layers", "dropout", "epochs", "batch_size",
    "learning_rate", "seed", "split_seed", "data",
]


def prepare(exp: TranslationExperiment, *, progress: bool = True):
    """Read, split and index the pairs: ``(splits, source_vocab, target_vocab)``."""
    d = exp.data
    splits = split_pairs(read_pairs(d.path, progress=progress), max_tokens=d.max_tokens,
                         max_pairs=d.max_pairs or None, val_fraction=d.val_fraction,
                         test_fraction=d.test_fraction, seed=d.split_seed)
    source_vocab = Vocabulary.build((s for s, _ in splits.train), d.min_count, d.max_vocab or None)
    target_vocab = Vocabulary.build((t for _, t in splits.train), d.min_count, d.max_vocab or None)
    return splits, source_vocab, target_vocab


def _arrays(pairs, source_vocab: Vocabulary, target_vocab: Vocabulary):
    source = encode_source([s for s, _ in pairs], source_vocab)
    decoder_input, targets = teacher_forcing([t for _, t in pairs], target_vocab)
    return source, decoder_input, targets


def run_experiment(
    exp: TranslationExperiment,
    results_dir: str | os.PathLike = "results",
    models_dir: str | os.PathLike | None = "models",
    *,
    progress: bool = False,
    verbose: int = 0,
) -> Path:
    """Train each decoder variant, score greedy and beam decoding on the test split, append
    one CSV row per (variant, decoding), save each model; return the CSV's path.

    A variant whose rows are already in the CSV, made with the same settings, is skipped.
    ``progress`` shows a progress bar while a download runs; ``verbose`` is Keras's ``fit``
    verbosity.
    """
    results = ResultsFile(Path(results_dir) / f"{exp.name}.csv", COLUMNS, KEY_COLUMNS)
    results.check_writable()
    if models_dir:
        check_writable(models_dir, "--models-dir", folder=True)
    done = results.finished_keys()
    splits, source_vocab, target_vocab = prepare(exp, progress=progress)
    import keras  # only now: bad settings, folders and data fail without loading Keras

    from .model import Translator, bleu, build_model, save_translator, token_accuracy

    log.info("pairs: %d train, %d validation, %d test; vocabularies: %d English, %d Spanish",
             len(splits.train), len(splits.val), len(splits.test), len(source_vocab),
             len(target_vocab))
    train = _arrays(splits.train, source_vocab, target_vocab)
    val = _arrays(splits.val, source_vocab, target_vocab)
    test = _arrays(splits.test, source_vocab, target_vocab)
    sources, refs = references(splits.test)
    if exp.decoding.max_test_sentences:
        sources, refs = (sources[:exp.decoding.max_test_sentences],
                         refs[:exp.decoding.max_test_sentences])
    test_ids = encode_source(sources, source_vocab)
    m, t, dec = exp.model, exp.training, exp.decoding
    run_versions = versions()

    for variant in m.variants:
        row = {
            "experiment": exp.name, "variant": variant,
            "n_train": len(splits.train), "n_val": len(splits.val), "n_test": len(splits.test),
            "n_test_sentences": len(sources), "source_vocab": len(source_vocab),
            "target_vocab": len(target_vocab), "max_tokens": exp.data.max_tokens,
            "max_pairs": exp.data.max_pairs, "min_count": exp.data.min_count,
            "embedding_dim": m.embedding_dim, "units": m.units,
            "encoder_layers": m.encoder_layers, "dropout": m.dropout, "epochs": t.epochs,
            "batch_size": t.batch_size, "learning_rate": t.learning_rate, "seed": t.seed,
            "split_seed": exp.data.split_seed, "data": Path(exp.data.path).name
            if exp.data.path else "spa-eng.zip",
        }
        runs = [("greedy", 1), ("beam", dec.beam_width)]
        if all(_key(results, row, decoding, width) in done for decoding, width in runs):
            log.info("[%s] already in %s", variant, results.path)
            continue
        log.info("[%s] training %d epochs", variant, t.epochs)
        keras.utils.set_random_seed(t.seed)
        model = build_model(len(source_vocab), len(target_vocab), variant=variant,
                            embedding_dim=m.embedding_dim, units=m.units,
                            encoder_layers=m.encoder_layers, dropout=m.dropout,
                            learning_rate=t.learning_rate)
        started = time.perf_counter()
        history = model.fit(list(train[:2]), train[2], validation_data=(list(val[:2]), val[2]),
                            epochs=t.epochs, batch_size=t.batch_size, shuffle=True,
                            verbose=verbose).history
        train_seconds = round(time.perf_counter() - started, 1)
        translator = Translator(model, source_vocab, target_vocab, dec.max_output_tokens)
        row.update(token_accuracy=round(token_accuracy(model, *test), 4),
                   val_loss=round(history["val_loss"][-1], 4), train_seconds=train_seconds,
                   params=model.count_params(), **run_versions)
        outputs = {}
        for decoding, width in runs:
            started = time.perf_counter()
            if decoding == "greedy":
                outputs[decoding] = translator.greedy(test_ids)
            else:
                outputs[decoding] = [translator.beam(ids, width) for ids in test_ids]
            row.update(decoding=decoding, beam_width=width,
                       bleu=round(bleu(refs, outputs[decoding]), 4),
                       decode_seconds=round(time.perf_counter() - started, 1),
                       finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            if _key(results, row, decoding, width) not in done:
                results.append(row)
            log.info("[%s] %s (width %d): BLEU %.4f, token accuracy %.4f (%s s)", variant,
                     decoding, width, row["bleu"], row["token_accuracy"], row["decode_seconds"])
        _log_examples(sources, refs, outputs, dec.examples)
        if models_dir:
            saved = save_translator(translator, Path(models_dir) / f"{exp.name}-{variant}.keras",
                                    settings=dataclasses.asdict(exp))
            log.info("[%s] model: %s", variant, saved)
    return results.path


def _key(results: ResultsFile, row: dict, decoding: str, width: int) -> tuple[str, ...]:
    return results.key({**row, "decoding": decoding, "beam_width": width})


def _log_examples(sources, refs, outputs: dict, n: int) -> None:
    for i in range(min(n, len(sources))):
        log.info("  EN  %s", detokenize(list(sources[i])))
        log.info("  REF %s", " | ".join(detokenize(r) for r in refs[i]))
        for decoding, hypotheses in outputs.items():
            log.info("  %-7s%s", decoding, detokenize(hypotheses[i]))
