"""Train and compare English -> Spanish translators: a TOML config in, CSV rows and models out.

A config reads like this (every key but ``name`` has the default shown)::

    name = "translate_spa"

    [data]              # path = spa-eng.zip or spa.txt; else found or downloaded (see data.py)
    max_tokens = 10     # keep pairs whose both sides have at most this many word tokens
    max_pairs = 0       # 0: all pairs left; else about this many, whole English groups
    val_fraction = 0.1
    test_fraction = 0.1
    split_seed = 0
    vocabulary = "word" # or "sentencepiece": unigram pieces trained on the training split
    min_count = 2       # word: rarer training tokens become <unk>
    max_vocab = 0       # word: 0 is no limit
    vocab_size = 4000   # sentencepiece: at most this many pieces per language

    [model]
    variants = ["init", "every_step", "attention"]
    embedding_dim = 128
    units = 128         # per encoder direction; the decoder has 2 * units
    encoder_layers = 2
    attention_dim = 256 # the attention variant's tanh layer
    dropout = 0.0

    [training]
    epochs = 10
    batch_size = 64
    learning_rate = 0.001
    seed = 0
    time_limit_minutes = 0   # stop after the first epoch that ends past it; 0: no limit

    [decoding]
    beam_width = 4
    max_output_tokens = 20   # in vocabulary units (words or pieces)
    examples = 5             # test sentences logged with their translations
    max_test_sentences = 0   # 0: score every distinct test sentence

The driver (this process) reads, splits and encodes the pairs once, and trains the
vocabularies. Each decoder variant is then one run, in this process or as a Dask task on a
local or remote cluster (:mod:`nlpia_lstm.cluster`), like a grid's cells: it trains one model,
scores greedy and beam decoding on the test split with sacreBLEU and chrF, and saves the model
to ``<models_dir>/<name>-<variant>.keras``. The driver alone appends the rows, one per
(variant, decoding), to ``<results_dir>/<name>.csv``; a rerun skips the variants already there.
Importing this module does not import Keras.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..cluster import dask_client, import_keras_quietly, run_jobs
from ..config import TranslationExperiment
from ..data import read_pairs
from ..results import ResultsFile, versions
from ..saving import check_writable
from .text import (
    SentencePieceVocabulary,
    Splits,
    Vocabulary,
    build_vocabularies,
    detokenize,
    encode_source,
    references,
    split_pairs,
    teacher_forcing,
)

__all__ = ["COLUMNS", "KEY_COLUMNS", "PreparedPairs", "prepare", "run_experiment", "train_variant"]

log = logging.getLogger(__name__)

COLUMNS = [
    "experiment", "variant", "decoding", "beam_width", "bleu", "chrf", "token_accuracy",
    "val_loss", "epochs_run", "train_seconds", "decode_seconds", "params", "n_train", "n_val",
    "n_test", "n_test_sentences", "vocabulary", "vocab_size", "min_count", "max_vocab",
    "source_vocab", "target_vocab", "max_tokens", "max_pairs", "embedding_dim", "units",
    "encoder_layers", "attention_dim", "dropout", "epochs", "time_limit_minutes", "batch_size",
    "learning_rate", "seed", "split_seed", "data", "bleu_signature", "chrf_signature",
    "nlpia_lstm_version", "keras_version", "backend", "backend_version", "tensorflow_version",
    "python_version", "platform", "finished_at",
]
# A row with the same values in these columns is the same run: a rerun skips it.
KEY_COLUMNS = [
    "experiment", "variant", "decoding", "beam_width", "n_train", "n_val", "n_test",
    "n_test_sentences", "vocabulary", "vocab_size", "min_count", "max_vocab", "source_vocab",
    "target_vocab", "max_tokens", "max_pairs", "embedding_dim", "units", "encoder_layers",
    "attention_dim", "dropout", "epochs", "time_limit_minutes", "batch_size", "learning_rate",
    "seed", "split_seed", "data",
]

AnyVocabulary = Vocabulary | SentencePieceVocabulary
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class PreparedPairs:
    """A config's pairs, encoded once for all its variants (and sent once to each worker).

    Attributes
    ----------
    source_vocab, target_vocab : Vocabulary or SentencePieceVocabulary
        Built from the training split only.
    train, val, test : tuple of np.ndarray
        ``(source, decoder_input, target)`` ids of every pair of the split.
    test_sources : list of str
        The distinct English test sentences scored, detokenized.
    test_references : list of list of str
        All Spanish translations of each of them in the test split, detokenized.
    test_ids : np.ndarray
        The source ids of ``test_sources``.
    provenance : dict
        What every row records about the data: split sizes, vocabulary sizes, the data file.
    """

    source_vocab: AnyVocabulary
    target_vocab: AnyVocabulary
    train: Arrays
    val: Arrays
    test: Arrays
    test_sources: list[str]
    test_references: list[list[str]]
    test_ids: np.ndarray
    provenance: dict


def read_splits(exp: TranslationExperiment, *, progress: bool = True) -> Splits:
    """Read the pairs and split them by English sentence, as ``exp`` says."""
    d = exp.data
    return split_pairs(read_pairs(d.path, progress=progress), max_tokens=d.max_tokens,
                       max_pairs=d.max_pairs or None, val_fraction=d.val_fraction,
                       test_fraction=d.test_fraction, seed=d.split_seed)


def prepare(exp: TranslationExperiment, *, progress: bool = True) -> PreparedPairs:
    """Read, split and encode the pairs, and build the vocabularies from the training split."""
    d = exp.data
    splits = read_splits(exp, progress=progress)
    if d.vocabulary == "sentencepiece":
        log.info("training sentencepiece models of up to %d pieces on %d training pairs",
                 d.vocab_size, len(splits.train))
    source_vocab, target_vocab = build_vocabularies(
        splits.train, d.vocabulary, min_count=d.min_count, max_vocab=d.max_vocab or None,
        vocab_size=d.vocab_size)
    sources, refs = references(splits.test)
    if exp.decoding.max_test_sentences:
        sources, refs = (sources[:exp.decoding.max_test_sentences],
                         refs[:exp.decoding.max_test_sentences])
    word = d.vocabulary == "word"
    provenance = {
        "n_train": len(splits.train), "n_val": len(splits.val), "n_test": len(splits.test),
        "n_test_sentences": len(sources), "vocabulary": d.vocabulary,
        "vocab_size": None if word else d.vocab_size, "min_count": d.min_count if word else None,
        "max_vocab": d.max_vocab if word else None, "source_vocab": len(source_vocab),
        "target_vocab": len(target_vocab), "max_tokens": d.max_tokens, "max_pairs": d.max_pairs,
        "split_seed": d.split_seed, "data": Path(d.path).name if d.path else "spa-eng.zip",
    }
    return PreparedPairs(
        source_vocab=source_vocab, target_vocab=target_vocab,
        train=_arrays(splits.train, source_vocab, target_vocab),
        val=_arrays(splits.val, source_vocab, target_vocab),
        test=_arrays(splits.test, source_vocab, target_vocab),
        test_sources=[detokenize(list(s)) for s in sources],
        test_references=[[detokenize(r) for r in group] for group in refs],
        test_ids=encode_source(sources, source_vocab), provenance=provenance)


def _arrays(pairs, source_vocab: AnyVocabulary, target_vocab: AnyVocabulary) -> Arrays:
    source = encode_source([s for s, _ in pairs], source_vocab)
    decoder_input, targets = teacher_forcing([t for _, t in pairs], target_vocab)
    return source, decoder_input, targets


def train_variant(variant: str, prepared: PreparedPairs, exp: TranslationExperiment, *,
                  verbose: int = 0, save_path: str | None = None) -> dict:
    """Train and score one decoder variant where this function runs (a worker or the driver).

    Returns ``{"rows": [greedy figures, beam figures], "examples": [...]}``: each row holds
    the scores, the versions that made them and the finish time, and the examples the first
    ``exp.decoding.examples`` test sentences with both translations. With ``save_path`` the
    model is saved there, on this machine's file system.
    """
    import_keras_quietly()
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") not in ("", "0"):
        # As the command does in its own process: beam search calls predict on batches of
        # changing size, as it must, and TensorFlow warns of "retracing" each time.
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    from ..training import seeded
    from .model import (
        LengthBuckets,
        TimeLimit,
        Translator,
        build_model,
        corpus_scores,
        save_translator,
        token_accuracy,
    )

    m, t, dec = exp.model, exp.training, exp.decoding
    time_limit = TimeLimit(t.time_limit_minutes)
    with seeded(t.seed):
        model = build_model(len(prepared.source_vocab), len(prepared.target_vocab),
                            variant=variant, embedding_dim=m.embedding_dim, units=m.units,
                            encoder_layers=m.encoder_layers, attention_dim=m.attention_dim,
                            dropout=m.dropout, learning_rate=t.learning_rate)
        started = time.perf_counter()
        # LengthBuckets shuffles with its own generator. Keras's shuffle=True would draw the
        # batch order from Python's global random, which a Dask worker's other threads use too.
        history = model.fit(LengthBuckets(*prepared.train, t.batch_size, seed=t.seed),
                            validation_data=(list(prepared.val[:2]), prepared.val[2]),
                            epochs=t.epochs, shuffle=False, callbacks=[time_limit],
                            verbose=verbose).history
        train_seconds = round(time.perf_counter() - started, 1)
    epochs_run = len(history["loss"])
    if time_limit.stopped_after:
        log.info("[%s] time limit of %g minutes reached: stopped after epoch %d of %d",
                 variant, t.time_limit_minutes, epochs_run, t.epochs)
    translator = Translator(model, prepared.source_vocab, prepared.target_vocab,
                            dec.max_output_tokens)
    common = {"token_accuracy": round(token_accuracy(model, *prepared.test), 4),
              "val_loss": round(float(history["val_loss"][-1]), 4), "epochs_run": epochs_run,
              "train_seconds": train_seconds, "params": model.count_params(), **versions()}
    rows, outputs = [], {}
    for decoding, width in (("greedy", 1), ("beam", dec.beam_width)):
        started = time.perf_counter()
        if decoding == "greedy":
            ids = translator.greedy(prepared.test_ids)
        else:
            ids = [translator.beam(row, width) for row in prepared.test_ids]
        outputs[decoding] = [prepared.target_vocab.decode(i) for i in ids]
        decode_seconds = round(time.perf_counter() - started, 1)
        scores = corpus_scores(prepared.test_references, outputs[decoding])
        rows.append({**common, "decoding": decoding, "beam_width": width,
                     "bleu": round(scores["bleu"], 2), "chrf": round(scores["chrf"], 2),
                     "bleu_signature": scores["bleu_signature"],
                     "chrf_signature": scores["chrf_signature"], "decode_seconds": decode_seconds,
                     "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        log.debug("[%s] %s: %s", variant, decoding, scores["bleu_detail"])
    if save_path:
        save_translator(translator, Path(save_path), settings=dataclasses.asdict(exp))
    examples = [{"source": prepared.test_sources[i], "references": prepared.test_references[i],
                 **{decoding: outputs[decoding][i] for decoding in outputs}}
                for i in range(min(dec.examples, len(prepared.test_sources)))]
    return {"rows": rows, "examples": examples}


def _settings_row(exp: TranslationExperiment, variant: str, prepared: PreparedPairs) -> dict:
    m, t = exp.model, exp.training
    return {"experiment": exp.name, "variant": variant, "embedding_dim": m.embedding_dim,
            "units": m.units, "encoder_layers": m.encoder_layers,
            "attention_dim": m.attention_dim if variant == "attention" else None,
            "dropout": m.dropout, "epochs": t.epochs, "time_limit_minutes": t.time_limit_minutes,
            "batch_size": t.batch_size, "learning_rate": t.learning_rate, "seed": t.seed,
            **prepared.provenance}


def _runs(row: dict, beam_width: int) -> list[dict]:
    """The two rows of a variant, as far as their keys go: greedy and beam."""
    return [{**row, "decoding": "greedy", "beam_width": 1},
            {**row, "decoding": "beam", "beam_width": beam_width}]


def run_experiment(
    exp: TranslationExperiment,
    results_dir: str | os.PathLike = "results",
    models_dir: str | os.PathLike | None = "models",
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
    verbose: int = 0,
) -> Path:
    """Train each decoder variant not yet in the results CSV; return the CSV's path.

    Parameters
    ----------
    exp : TranslationExperiment
        The config, from :func:`nlpia_lstm.config.load_translation_config`.
    results_dir : path-like
        Folder of the results CSV, ``<name>.csv``: one row per variant and decoding.
    models_dir : path-like, optional
        Save each model here as ``<name>-<variant>.keras`` with its ``.json``. The workers
        write them, so on a cluster this must be a folder they all can reach.
    workers : int
        1 trains the variants in this process, one after another; more trains them on a
        local Dask cluster of that many worker processes, one variant each at a time.
    scheduler : str, optional
        Address of a running Dask scheduler to run the variants on instead.
    progress : bool
        Show a progress bar while a download runs.
    verbose : int
        Keras's ``fit`` verbosity for variants trained in this process.
    """
    results = ResultsFile(Path(results_dir) / f"{exp.name}.csv", COLUMNS, KEY_COLUMNS)
    results.check_writable()
    if models_dir:
        check_writable(models_dir, "--models-dir", folder=True)
    done = results.finished_keys()
    prepared = prepare(exp, progress=progress)
    p = prepared.provenance
    log.info("pairs: %d train, %d validation, %d test (%d distinct English test sentences); "
             "%s vocabularies: %d English, %d Spanish", p["n_train"], p["n_val"], p["n_test"],
             p["n_test_sentences"], p["vocabulary"], p["source_vocab"], p["target_vocab"])
    beam_width = exp.decoding.beam_width
    pending = [(v, _settings_row(exp, v, prepared)) for v in exp.model.variants]
    for variant, row in pending:
        if all(results.key(r) in done for r in _runs(row, beam_width)):
            log.info("[%s] already in %s", variant, results.path)
    pending = [(v, row) for v, row in pending
               if not all(results.key(r) in done for r in _runs(row, beam_width))]
    if not pending:
        return results.path
    save_paths = {}
    if models_dir:
        save_paths = {v: str(Path(models_dir) / f"{exp.name}-{v}.keras") for v, _ in pending}

    with contextlib.ExitStack() as stack:
        client = remote = None
        if scheduler is not None or workers > 1:
            client = stack.enter_context(dask_client(workers, scheduler))
            remote = client.scatter(prepared, broadcast=True, hash=False)
        finished = run_jobs(pending, train_variant, (prepared, exp), results=results,
                            is_done=lambda row, done: all(results.key(r) in done
                                                          for r in _runs(row, beam_width)),
                            claim_row=lambda row: _runs(row, beam_width)[0], client=client,
                            remote_args=(remote, exp), name=lambda variant: f"[{variant}]",
                            save_paths=save_paths, verbose=verbose)
        for variant, row, result in finished:
            if result is None:
                continue  # another process trained this variant
            for figures in result["rows"]:
                written = {**row, **figures}
                if results.key(written) not in done and not results.append(written):
                    log.warning("[%s] %s: another process wrote this row first",
                                variant, figures["decoding"])
                log.info("[%s] %s (width %d): BLEU %.2f, chrF %.2f, token accuracy "
                         "%.4f; %d epochs in %s s, decoding %s s", variant,
                         figures["decoding"], figures["beam_width"], figures["bleu"],
                         figures["chrf"], figures["token_accuracy"],
                         figures["epochs_run"], figures["train_seconds"],
                         figures["decode_seconds"])
            log.info("[%s] sacreBLEU %s", variant, result["rows"][0]["bleu_signature"])
            _log_examples(result["examples"])
            if variant in save_paths:
                log.info("[%s] model: %s", variant, save_paths[variant])
    return results.path


def _log_examples(examples: list[dict]) -> None:
    for example in examples:
        log.info("  EN  %s", example["source"])
        log.info("  REF %s", " | ".join(example["references"]))
        for decoding in ("greedy", "beam"):
            log.info("  %-7s%s", decoding, example[decoding])
