"""Model inputs for a whole grid: read, split and encode IMDB once, as a config says.

:func:`prepare_inputs` gives token-id matrices for a frozen word-vector ``Embedding`` (word
level) or character ids for a frozen identity ``Embedding`` (character level), with a record of
how they were made, which every result row keeps. Word vectors come from a file or from word2vec
trained on the training texts only, cached by what produced them (:func:`cached_word2vec`).
This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import data
from .config import DataSettings, Experiment, VectorSettings
from .errors import ConfigError, DataError
from .preprocessing import VALID_CHARS, create_dicts
from .tokens import TokenizedCorpus, cache_key, char_ids, ids_matrix, load_imdb_tokens
from .vectors import embedding_matrix, load_word_vectors, save_word_vectors, train_word2vec

__all__ = ["Inputs", "Prepared", "prepare_inputs", "cached_word2vec"]

log = logging.getLogger(__name__)


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


def cached_word2vec(settings: VectorSettings, train: TokenizedCorpus | None,
                    unsup: TokenizedCorpus | None, key: str, progress: bool = False):
    """Load the vectors file, or train word2vec on the training texts (cached by ``key``).

    Returns the ``KeyedVectors`` and the description a result row records of them. A cached
    file that cannot be read is moved aside (:func:`nlpia_lstm.data.set_aside`) and the
    vectors are trained again.
    """
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
    # One process trains these vectors; another one on the same cold cache waits, then reads.
    with data.cache_lock(cached):
        if cached.is_file():
            try:
                return load_word_vectors(cached, limit=None, binary=True), described
            except DataError as exc:
                data.set_aside(cached, str(exc.__cause__ or exc))
        log.info("training word2vec on %s reviews (once; cached in %s)",
                 f"{sum(len(c) for c in corpora):,}", cached.parent)
        kv = train_word2vec(*corpora, vector_size=w2v.vector_size, window=w2v.window,
                            min_count=w2v.min_count, epochs=w2v.epochs, sg=w2v.sg, seed=w2v.seed,
                            workers=w2v.workers, progress=progress)
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


def _labels(reviews: list) -> np.ndarray:
    return np.asarray([label for label, _ in reviews], dtype="float32")


def _prepare_chars(exp: Experiment, progress: bool) -> Prepared:
    """Character ids for a frozen identity Embedding (see :func:`prepare_inputs`)."""
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
    log.info("encoding %s reviews as %d characters from %d symbols",
             f"{len(train) + len(val) + len(test or []):,}", maxlen, len(char_indices))
    inputs = Inputs(
        np.eye(len(char_indices), dtype="float32"),
        char_ids(train, char_indices, maxlen, valid), _labels(train),
        char_ids(val, char_indices, maxlen, valid), _labels(val),
        char_ids(test, char_indices, maxlen, valid) if test else None,
        _labels(test) if test else None,
    )
    described = f"one-hot chars ({len(char_indices)} symbols)"
    if settings.valid_chars:
        described += f", valid {settings.valid_chars!r}"
    provenance = _provenance(described, source, settings, train, val, test)
    return Prepared(inputs, [indices_char[i] for i in range(len(indices_char))], provenance,
                    level="char")


def prepare_inputs(exp: Experiment, *, progress: bool = False) -> Prepared:
    """Read, tokenize, split and encode IMDB as ``exp`` says; return the grid's inputs.

    Parameters
    ----------
    exp : Experiment
        The grid; its ``data``, ``vectors`` and ``training.maxlen`` are used.
    progress : bool
        Show progress bars for reading, tokenizing and word2vec.

    Returns
    -------
    Prepared
        Word level: token ids into a word-vector matrix whose row 0 pads. Character level
        (``exp.data.level == "char"``): character ids into an identity matrix, the chapter's
        one-hot input.
    """
    if exp.data.level == "char":
        return _prepare_chars(exp, progress)
    settings, vec = exp.data, exp.vectors
    train_words = vec.path is None
    splits = ["train"] + (["test"] if settings.score_test else [])
    splits += ["unsup"] if train_words and vec.word2vec.use_unsup else []
    source = data.imdb_path(settings.path, progress=progress)
    # A vectors file is read first, so that a bad one fails before the reviews are tokenized.
    loaded = cached_word2vec(vec, None, None, "", progress) if vec.path else None
    tokens = load_imdb_tokens(source, splits, progress=progress)
    everything = tokens["train"]
    train_idx, val_idx = data.shuffle_split(range(len(everything)), settings.val_fraction,
                                            settings.split_seed, settings.max_reviews)
    train, val = everything.subset(train_idx), everything.subset(val_idx)
    key = cache_key(source=data.file_identity(source),
                    train=hashlib.sha256(np.asarray(train_idx).tobytes()).hexdigest(),
                    word2vec=vec.word2vec)
    kv, vectors_desc = loaded or cached_word2vec(vec, train, tokens.get("unsup"), key, progress)
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
