"""Run an experiment grid: prepare the inputs once, train every cell, append each row at once.

Rows go to ``results/<experiment>.csv`` as soon as a cell finishes, so an interrupted run keeps
every finished cell, and a rerun skips the cells already there.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

from . import __version__, data
from .config import DataSettings, Experiment, VectorSettings
from .errors import ConfigError
from .preprocessing import (
    VALID_CHARS,
    TokenizedCorpus,
    cache_key,
    char_ids,
    create_dicts,
    ids_matrix,
    load_imdb_tokens,
)
from .vectors import embedding_matrix, load_word_vectors, save_word_vectors, train_word2vec

__all__ = ["COLUMNS", "Inputs", "Prepared", "prepare_inputs", "run_grid", "finished_keys"]

COLUMNS = [
    "experiment", "arch", "units", "seed", "acc", "val_acc", "loss", "val_loss", "test_acc",
    "test_loss", "params", "train_seconds", "epochs", "batch_size", "maxlen", "dropout",
    "optimizer", "depth", "vectors", "data", "split_seed", "n_train", "n_val", "n_test",
    "finished_at", "nlpia_lstm_version", "keras_version", "backend", "backend_version",
    "tensorflow_version", "python_version", "platform",
]
# A row with the same values in these columns is the same cell run the same way.
KEY_COLUMNS = [
    "arch", "units", "seed", "epochs", "batch_size", "maxlen", "dropout", "optimizer", "depth",
    "vectors", "data", "split_seed", "n_train", "n_val", "n_test",
]


@dataclass
class Inputs:
    """Token-id matrices and labels for training, validation and (optionally) test."""

    embeddings: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None


@dataclass
class Prepared:
    """Model inputs for a whole grid, with a record of how they were made.

    ``words`` names the embedding rows: row ``i + 1`` is ``words[i]`` at the word level (row 0
    pads), row ``i`` is ``words[i]`` at the character level.
    """

    inputs: Inputs
    words: list[str]
    provenance: dict
    level: str = "word"


def _word_vectors(settings: VectorSettings, train: TokenizedCorpus,
                  unsup: TokenizedCorpus | None, key: str, progress: bool):
    """Load the vectors file, or train word2vec on the training texts (cached by ``key``)."""
    if settings.path:
        kv = load_word_vectors(settings.path, limit=settings.limit, binary=settings.binary)
        return kv, f"{Path(settings.path).name} (limit {settings.limit})"
    w2v = settings.word2vec
    corpora = [train] + ([unsup] if w2v.use_unsup and unsup is not None else [])
    described = (f"word2vec {w2v.vector_size}d trained on IMDB train portion"
                 f"{' + unsup' if len(corpora) > 1 else ''} ({'skip-gram' if w2v.sg else 'cbow'}, "
                 f"window {w2v.window}, min_count {w2v.min_count}, {w2v.epochs} epochs, "
                 f"seed {w2v.seed}, key {key})")
    cached = data.cache_dir() / "vectors" / f"word2vec-imdb-{key}.bin"
    if cached.is_file():
        return load_word_vectors(cached, limit=None, binary=True), described
    if progress:
        n_docs = sum(len(c) for c in corpora)
        print(f"training word2vec on {n_docs:,} reviews (once; cached in {cached.parent})",
              flush=True)
    kv = train_word2vec(*corpora, vector_size=w2v.vector_size, window=w2v.window,
                        min_count=w2v.min_count, epochs=w2v.epochs, sg=w2v.sg, seed=w2v.seed,
                        workers=w2v.workers, progress=progress)
    cached.parent.mkdir(parents=True, exist_ok=True)
    save_word_vectors(kv, cached)
    return kv, described


def _provenance(vectors: str, source: Path, settings: DataSettings, train, val, test) -> dict:
    """What a result row records of its inputs: vectors, data file, split and sizes."""
    return {
        "vectors": vectors,
        "data": source.name,
        "split_seed": settings.split_seed,
        "n_train": len(train),
        "n_val": len(val),
        "n_test": len(test) if test else "",
    }


def _test_subset(n: int, settings: DataSettings) -> list[int]:
    """Indices of the test reviews to score: all, or ``max_test`` drawn with the split seed."""
    order = list(range(n))
    if settings.max_test:
        random.Random(settings.split_seed).shuffle(order)
        order = order[: settings.max_test]
    return order


def prepare_char_inputs(exp: Experiment, *, progress: bool = True) -> Prepared:
    """Read and split IMDB as ``exp`` says; return character ids for a frozen identity Embedding.

    The symbols are PAD, UNK and every valid character seen in the training portion
    (:func:`~nlpia_lstm.preprocessing.create_dicts`); the identity matrix as embedding turns
    their ids into the chapter's one-hot vectors.
    """
    settings, maxlen = exp.data, exp.training.maxlen
    if exp.vectors.path:
        raise ConfigError('word vectors do not apply to data.level = "char"')
    valid = settings.valid_chars or VALID_CHARS
    source = data.imdb_path(settings.path, progress=progress)
    splits = ("train", "test") if settings.score_test else ("train",)
    reviews = data.read_imdb(source, splits, progress=progress)
    everything = reviews["train"]
    train_idx, val_idx = data.shuffle_split(range(len(everything)), settings.val_fraction,
                                            settings.split_seed, settings.max_reviews)
    train = [everything[i] for i in train_idx]
    val = [everything[i] for i in val_idx]
    test = None
    if settings.score_test:
        test = [reviews["test"][i] for i in _test_subset(len(reviews["test"]), settings)]
    seen = set().union(*(set(text.lower()) for _, text in train)) & set(valid)
    char_indices, indices_char = create_dicts([sorted(seen)])
    if progress:
        print(f"encoding {len(train) + len(val) + len(test or []):,} reviews as "
              f"{maxlen} characters from {len(char_indices)} symbols", flush=True)

    def labels(reviews: list) -> np.ndarray:
        return np.asarray([label for label, _ in reviews], dtype="float32")

    inputs = Inputs(
        np.eye(len(char_indices), dtype="float32"),
        char_ids(train, char_indices, maxlen, valid), labels(train),
        char_ids(val, char_indices, maxlen, valid), labels(val),
        char_ids(test, char_indices, maxlen, valid) if test else None,
        labels(test) if test else None,
    )
    described = f"one-hot chars ({len(char_indices)} symbols)"
    if settings.valid_chars:
        described += f", valid {settings.valid_chars!r}"
    provenance = _provenance(described, source, settings, train, val, test)
    return Prepared(inputs, [indices_char[i] for i in range(len(indices_char))], provenance,
                    level="char")


def prepare_inputs(exp: Experiment, *, progress: bool = True) -> Prepared:
    """Read, tokenize, split and vectorize IMDB as ``exp`` says; return token-id inputs.

    With ``exp.data.level == "char"`` the inputs are character ids (:func:`prepare_char_inputs`).
    """
    if exp.data.level == "char":
        return prepare_char_inputs(exp, progress=progress)
    settings, vec = exp.data, exp.vectors
    train_words = vec.path is None
    splits = ["train"] + (["test"] if settings.score_test else [])
    splits += ["unsup"] if train_words and vec.word2vec.use_unsup else []
    source = data.imdb_path(settings.path, progress=progress)
    tokens = load_imdb_tokens(source, splits, progress=progress)
    everything = tokens["train"]
    train_idx, val_idx = data.shuffle_split(range(len(everything)), settings.val_fraction,
                                            settings.split_seed, settings.max_reviews)
    train, val = everything.subset(train_idx), everything.subset(val_idx)
    key = cache_key(source=data.file_identity(source),
                    train=hashlib.sha256(np.asarray(train_idx).tobytes()).hexdigest(),
                    word2vec=vec.word2vec)
    kv, vectors_desc = _word_vectors(vec, train, tokens.get("unsup"), key, progress)
    matrix, key_to_row = embedding_matrix(kv)
    maxlen = exp.training.maxlen
    test = None
    if settings.score_test:
        test = tokens["test"]
        if settings.max_test:
            test = test.subset(_test_subset(len(test), settings))
    inputs = Inputs(
        matrix,
        ids_matrix(train, key_to_row, maxlen), train.labels.astype("float32"),
        ids_matrix(val, key_to_row, maxlen), val.labels.astype("float32"),
        ids_matrix(test, key_to_row, maxlen) if test else None,
        test.labels.astype("float32") if test else None,
    )
    provenance = _provenance(vectors_desc, source, settings, train, val, test)
    return Prepared(inputs, list(kv.index_to_key), provenance)


def versions() -> dict:
    """The versions a result row records: this package, Keras, its backend, TF, Python."""
    import keras

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return ""

    backend = keras.backend.backend()
    return {
        "nlpia_lstm_version": __version__,
        "keras_version": keras.__version__,
        "backend": backend,
        "backend_version": version(backend),
        "tensorflow_version": version("tensorflow"),
        "python_version": platform.python_version(),
        "platform": f"{platform.system()}-{platform.machine()}",
    }


def finished_keys(
    csv_path: str | os.PathLike, columns: list[str] = COLUMNS,
    key_columns: list[str] = KEY_COLUMNS,
) -> set[tuple[str, ...]]:
    """Return the keys (``key_columns`` values, as text) of the rows already in a results CSV.

    Empty when the CSV does not exist; a CSV whose header is not ``columns`` is refused.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file() or csv_path.stat().st_size == 0:
        return set()
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        _check_header(csv_path, reader.fieldnames, columns)
        return {tuple(row[c] for c in key_columns) for row in reader}


def row_key(row: dict, key_columns: list[str] = KEY_COLUMNS) -> tuple[str, ...]:
    """The key of a row about to be written, as :func:`finished_keys` reads it back."""
    return tuple(_cell(row.get(c)) for c in key_columns)


def append_row(csv_path: Path, row: dict, columns: list[str] = COLUMNS) -> None:
    """Append one result row to a CSV at once (header first if new), flushed to disk.

    A CSV with other columns is refused, never rewritten: its rows stay as they are.
    """
    new = not csv_path.is_file() or csv_path.stat().st_size == 0
    if not new:
        with open(csv_path, newline="", encoding="utf-8") as f:
            _check_header(csv_path, next(csv.reader(f), None), columns)
    with open(csv_path, "a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        if new:
            writer.writeheader()
        writer.writerow({k: _cell(row.get(k)) for k in columns})
        f.flush()
        os.fsync(f.fileno())


def _check_header(csv_path: Path, header: list[str] | None, columns: list[str]) -> None:
    if header != columns:
        raise ConfigError(f"{csv_path} has other columns than this version writes; "
                          "move it aside or choose another --results-dir")


def _cell(value) -> str:
    """A value as the CSV holds it: empty for None, else its text."""
    return "" if value is None else str(value)


def _settings_row(exp: Experiment, cell: tuple[str, int, int], seed: int,
                  provenance: dict) -> dict:
    t, (arch, units, depth) = exp.training, cell
    return {"experiment": exp.name, "arch": arch, "units": units, "seed": seed,
            "epochs": t.epochs, "batch_size": t.batch_size, "maxlen": t.maxlen,
            "dropout": t.dropout, "optimizer": t.optimizer, "depth": depth, **provenance}


def run_grid(
    exp: Experiment,
    results_dir: str | os.PathLike = "results",
    *,
    save_models: str | os.PathLike | None = None,
    progress: bool = True,
    verbose: int | None = None,
) -> Path:
    """Train every (architecture, units, seed) cell of ``exp`` not yet in its results CSV.

    Seeds run in the outer loop, so a partial run holds whole tables. Returns the CSV's path.
    """
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    csv_path = results_dir / f"{exp.name}.csv"
    done = finished_keys(csv_path)
    prepared = prepare_inputs(exp, progress=progress)

    from .models import frozen_embedding
    from .training import train_cell

    embedding = frozen_embedding(prepared.inputs.embeddings)
    run_versions = versions()
    plan = [(seed, cell) for seed in exp.seeds for cell in exp.cells]
    for i, (seed, cell) in enumerate(plan, 1):
        row = _settings_row(exp, cell, seed, prepared.provenance)
        arch, units, depth = cell
        name = f"{arch} units={units}" + (f" depth={depth}" if depth > 1 else "") + f" seed={seed}"
        if row_key(row) in done:
            if progress:
                print(f"[{i}/{len(plan)}] {name}: already in {csv_path}")
            continue
        if progress:
            print(f"[{i}/{len(plan)}] {name}", flush=True)
        result, model = train_cell(arch, units, seed, prepared.inputs, exp.training,
                                   depth=depth, embedding=embedding, verbose=verbose)
        row.update(result, **run_versions)
        row["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        append_row(csv_path, row)
        if progress:
            print(f"    acc={row['acc']:.4f} val_acc={row['val_acc']:.4f}"
                  + (f" test_acc={row['test_acc']:.4f}" if row["test_acc"] is not None else "")
                  + f" ({row['train_seconds']} s)", flush=True)
        if save_models:
            stem = f"{exp.name}-{arch}-{units}" + (f"-depth{depth}" if depth > 1 else "")
            _save_model(model, prepared, Path(save_models) / f"{stem}-seed{seed}.keras")
    return csv_path


def _save_model(model, prepared: Prepared, path: Path) -> None:
    """Save a trained model with the names of its embedding rows.

    Word level: ``<model>.words.txt``, where row ``i + 1`` of the embedding is line ``i``.
    Character level: ``<model>.chars.json``, a JSON list where row ``i`` is item ``i``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    if prepared.level == "char":
        path.with_suffix(".chars.json").write_text(json.dumps(prepared.words) + "\n",
                                                   encoding="utf-8")
    else:
        path.with_suffix(".words.txt").write_text("\n".join(prepared.words) + "\n",
                                                  encoding="utf-8")

