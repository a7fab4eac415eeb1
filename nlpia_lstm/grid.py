"""Run an experiment grid: prepare the inputs once, train every cell, append each row at once.

Rows go to ``results/<experiment>.csv`` as soon as a cell finishes, so an interrupted run keeps
every finished cell, and a rerun skips the cells already there.
"""

from __future__ import annotations

import csv
import hashlib
import os
import platform
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

from . import __version__, data
from .config import Experiment, VectorSettings
from .errors import ConfigError
from .preprocessing import TokenizedCorpus, cache_key, ids_matrix, load_imdb_tokens
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
    """Model inputs for a whole grid, with a record of how they were made."""

    inputs: Inputs
    words: list[str]
    provenance: dict


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


def prepare_inputs(exp: Experiment, *, progress: bool = True) -> Prepared:
    """Read, tokenize, split and vectorize IMDB as ``exp`` says; return token-id inputs."""
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
            order = list(range(len(test)))
            random.Random(settings.split_seed).shuffle(order)
            test = test.subset(order[: settings.max_test])
    inputs = Inputs(
        matrix,
        ids_matrix(train, key_to_row, maxlen), train.labels.astype("float32"),
        ids_matrix(val, key_to_row, maxlen), val.labels.astype("float32"),
        ids_matrix(test, key_to_row, maxlen) if test else None,
        test.labels.astype("float32") if test else None,
    )
    provenance = {
        "vectors": vectors_desc,
        "data": source.name,
        "split_seed": settings.split_seed,
        "n_train": len(train),
        "n_val": len(val),
        "n_test": len(test) if test else "",
    }
    return Prepared(inputs, list(kv.index_to_key), provenance)


def _versions() -> dict:
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
        "backend_version": version({"tensorflow": "tensorflow"}.get(backend, backend)),
        "tensorflow_version": version("tensorflow"),
        "python_version": platform.python_version(),
        "platform": f"{platform.system()}-{platform.machine()}",
    }


def finished_keys(csv_path: str | os.PathLike) -> set[tuple[str, ...]]:
    """Return the keys of the cells already in a results CSV (empty when it does not exist)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file() or csv_path.stat().st_size == 0:
        return set()
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != COLUMNS:
            raise ConfigError(f"{csv_path} has other columns than this version writes; "
                              "move it aside or choose another --results-dir")
        return {tuple(row[c] for c in KEY_COLUMNS) for row in reader}


def _append_row(csv_path: Path, row: dict) -> None:
    new = not csv_path.is_file() or csv_path.stat().st_size == 0
    with open(csv_path, "a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)
        f.flush()
        os.fsync(f.fileno())


def _settings_row(exp: Experiment, arch: str, units: int, seed: int, provenance: dict) -> dict:
    t = exp.training
    return {"experiment": exp.name, "arch": arch, "units": units, "seed": seed,
            "epochs": t.epochs, "batch_size": t.batch_size, "maxlen": t.maxlen,
            "dropout": t.dropout, "optimizer": t.optimizer, "depth": t.depth, **provenance}


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

    from .training import train_cell

    versions = _versions()
    plan = [(seed, arch, units) for seed in exp.seeds for arch, units in exp.cells]
    for i, (seed, arch, units) in enumerate(plan, 1):
        row = _settings_row(exp, arch, units, seed, prepared.provenance)
        if tuple(str(row[c]) for c in KEY_COLUMNS) in done:
            if progress:
                print(f"[{i}/{len(plan)}] {arch} units={units} seed={seed}: already in {csv_path}")
            continue
        if progress:
            print(f"[{i}/{len(plan)}] {arch} units={units} seed={seed}", flush=True)
        result, model = train_cell(arch, units, seed, prepared.inputs, exp.training,
                                   verbose=verbose)
        row.update(result, **versions)
        row["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        _append_row(csv_path, {k: "" if row.get(k) is None else row[k] for k in COLUMNS})
        if progress:
            print(f"    acc={row['acc']:.4f} val_acc={row['val_acc']:.4f}"
                  + (f" test_acc={row['test_acc']:.4f}" if row["test_acc"] is not None else "")
                  + f" ({row['train_seconds']} s)", flush=True)
        if save_models:
            _save_model(model, prepared.words, Path(save_models) / f"{exp.name}-{arch}-{units}"
                        f"-seed{seed}.keras")
    return csv_path


def _save_model(model, words: list[str], path: Path) -> None:
    """Save a trained model with its word list: row ``i + 1`` of its embedding is ``words[i]``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    path.with_suffix(".words.txt").write_text("\n".join(words) + "\n", encoding="utf-8")

