"""Word vectors: load pretrained word2vec files, or train 300-d word2vec with gensim.

The chapter loads the GoogleNews vectors with
``KeyedVectors.load_word2vec_format(path, binary=True, limit=200000)``;
:func:`load_word_vectors` does the same. Where no vectors file is given, :func:`train_word2vec`
makes 300-d vectors from the training texts only (never validation or test texts).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .data import atomic_write
from .errors import DataError

__all__ = ["load_word_vectors", "train_word2vec", "embedding_matrix", "save_word_vectors"]


def load_word_vectors(
    path: str | os.PathLike, limit: int | None = 200_000, binary: bool | None = None
):
    """Load word2vec vectors (binary or text format) as gensim ``KeyedVectors``.

    Parameters
    ----------
    path : path-like
        A word2vec file, such as ``GoogleNews-vectors-negative300.bin.gz``; gzip and bz2
        compression are read directly.
    limit : int or None
        Keep only the first ``limit`` (most frequent) words, as the chapter does.
    binary : bool, optional
        File format; guessed from the name when ``None`` (``.bin`` or ``.bin.gz`` is binary).
    """
    from gensim.models import KeyedVectors

    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"no word vectors file at {path}")
    if limit is not None and limit <= 0:
        raise DataError(f"limit must be positive or None, got {limit}")
    if binary is None:
        binary = ".bin" in path.suffixes
    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=binary, limit=limit)
    except (ValueError, EOFError, OSError, UnicodeDecodeError, IndexError, KeyError) as exc:
        kind = "binary" if binary else "text"
        raise DataError(f"{path}: not a readable word2vec {kind} file ({exc})") from exc


def save_word_vectors(word_vectors, path: str | os.PathLike) -> None:
    """Save ``KeyedVectors`` in word2vec binary format (no pickle), atomically.

    The vectors go to a temporary file of a unique name beside ``path``, renamed to it once
    complete (:func:`nlpia_lstm.data.atomic_write`), so concurrent writers never collide.
    """
    with atomic_write(path) as tmp:
        word_vectors.save_word2vec_format(str(tmp), binary=True)


class _Chained:
    """Iterate several corpora in turn, afresh each time: gensim reads them once per epoch."""

    def __init__(self, corpora: Sequence[Iterable[Sequence[str]]]):
        self.corpora = corpora

    def __iter__(self):
        return itertools.chain.from_iterable(self.corpora)


def train_word2vec(
    *corpora: Iterable[Sequence[str]],
    vector_size: int = 300,
    window: int = 5,
    min_count: int = 5,
    epochs: int = 5,
    sg: int = 0,
    seed: int = 0,
    workers: int = 1,
    progress: bool = False,
):
    """Train word2vec on tokenized documents and return its ``KeyedVectors``.

    Each corpus yields token lists and must be iterable more than once (a list, or a
    ``TokenizedCorpus``); they are read one after the other. With
    ``workers=1`` (the default) the vectors are the same on every run with the same
    ``seed``; more workers are faster but not repeatable.
    """
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec
    from tqdm.auto import tqdm

    if vector_size <= 0 or epochs <= 0 or min_count <= 0 or workers <= 0:
        raise DataError("vector_size, epochs, min_count and workers must all be positive")

    class _EpochBar(CallbackAny2Vec):
        def __init__(self):
            self.bar = tqdm(total=epochs, desc="word2vec", unit="epoch", disable=not progress)

        def on_epoch_end(self, model):
            self.bar.update(1)

        def on_train_end(self, model):
            self.bar.close()

    model = Word2Vec(
        vector_size=vector_size, window=window, min_count=min_count, sg=sg, seed=seed,
        workers=workers,
    )
    sentences = _Chained(corpora)
    model.build_vocab(sentences)
    if not len(model.wv):
        raise DataError(f"no word occurs {min_count} times or more: too little text for word2vec")
    bar = _EpochBar()
    try:
        model.train(sentences, total_examples=model.corpus_count, epochs=epochs, callbacks=[bar])
    finally:
        bar.bar.close()  # also on an interrupt, so that the next line starts on a line of its own
    return model.wv


def embedding_matrix(word_vectors) -> tuple[np.ndarray, dict[str, int]]:
    """Return a float32 matrix with a zero row 0 (padding) and one row per word, and its index.

    Row ``i + 1`` holds the vector of ``word_vectors.index_to_key[i]``, so a frozen
    ``Embedding`` with this matrix maps token ids to exactly the chapter's vectors.
    """
    vectors = np.asarray(word_vectors.vectors, dtype=np.float32)
    matrix = np.zeros((vectors.shape[0] + 1, vectors.shape[1]), dtype=np.float32)
    matrix[1:] = vectors
    key_to_row = {word: i + 1 for i, word in enumerate(word_vectors.index_to_key)}
    return matrix, key_to_row
