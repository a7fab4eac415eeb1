"""The chapter's text utilities, under the chapter's names, with the chapter's behaviour.

The word-level classifier of the chapter (NLP in Action, ch. 9) keeps every review as a list of
300-d vectors::

    dataset = pre_process_data("aclImdb/train")
    vectorized = tokenize_and_vectorize(dataset, word_vectors)
    expected = collect_expected(dataset)
    x = pad_trunc(vectorized, maxlen=400)

and the character-level one as one-hot characters::

    listified_data = clean_data(dataset)
    common_length_data = char_pad_trunc(listified_data, maxlen=1500)
    char_indices, indices_char = create_dicts(common_length_data)
    encoded_data = onehot_encode(common_length_data, char_indices, 1500)

That is about 0.5 GB per 1,000 reviews as float32 vectors, so the grid keeps token ids instead
(:mod:`nlpia_lstm.tokens`: :func:`~nlpia_lstm.tokens.ids_matrix`,
:func:`~nlpia_lstm.tokens.char_ids`) and lets a frozen ``Embedding`` look them up: the network
sees exactly the same input (the tests check it). This module imports neither TensorFlow nor
Keras.
"""

from __future__ import annotations

import glob
import os
import random
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from .errors import DataError

__all__ = [
    "pre_process_data",
    "tokenize_and_vectorize",
    "collect_expected",
    "pad_trunc",
    "VALID_CHARS",
    "PAD",
    "UNK",
    "clean_data",
    "char_pad_trunc",
    "create_dicts",
    "onehot_encode",
]

# --- The chapter's utilities, under its names -------------------------------------------------


def pre_process_data(filepath: str | os.PathLike, seed: int | None = None) -> list[tuple[int, str]]:
    """Read ``filepath/pos/*.txt`` (label 1) and ``filepath/neg/*.txt`` (label 0), shuffled.

    As in the chapter; ``seed`` makes the shuffle repeatable (the chapter's is unseeded).
    """
    dataset = []
    for sub, label in (("pos", 1), ("neg", 0)):
        for filename in sorted(glob.glob(os.path.join(filepath, sub, "*.txt"))):
            with open(filename, encoding="utf-8") as f:
                dataset.append((label, f.read()))
    if not dataset:
        raise DataError(f"no reviews in {filepath}: expected pos/*.txt and neg/*.txt below it")
    random.Random(seed).shuffle(dataset)
    return dataset


def tokenize_and_vectorize(dataset: Sequence[tuple[int, str]], word_vectors: Mapping) -> list[list]:
    """Tokenize each review (Treebank) and replace every token by its vector, dropping unknown ones.

    ``word_vectors`` is anything with ``token in word_vectors`` and ``word_vectors[token]``,
    such as gensim's ``KeyedVectors``.
    """
    from nltk.tokenize import TreebankWordTokenizer

    tokenizer = TreebankWordTokenizer()
    vectorized = []
    for _, text in dataset:
        tokens = tokenizer.tokenize(text)
        vectorized.append([word_vectors[t] for t in tokens if t in word_vectors])
    return vectorized


def collect_expected(dataset: Sequence[tuple[int, str]]) -> list[int]:
    """Return the labels of ``(label, text)`` pairs, in order."""
    return [label for label, _ in dataset]


def pad_trunc(
    data: Sequence[Sequence], maxlen: int, embedding_dims: int | None = None
) -> np.ndarray:
    """Keep each sample's first ``maxlen`` vectors, padding shorter ones at the end with zeros.

    Returns a float32 array ``(len(data), maxlen, embedding_dims)``; the chapter returns nested
    lists of the same shape and reshapes them into this array next. ``embedding_dims`` is read
    from the data when not given (the chapter reads it from the first sample, which fails when
    that sample is empty).
    """
    if maxlen <= 0:
        raise DataError(f"maxlen must be positive, got {maxlen}")
    if embedding_dims is None:
        first = next((s for s in data if len(s)), None)
        if first is None:
            raise DataError("pad_trunc needs embedding_dims when every sample is empty")
        embedding_dims = len(first[0])
    out = np.zeros((len(data), maxlen, embedding_dims), dtype=np.float32)
    for i, sample in enumerate(data):
        kept = sample[:maxlen]
        if len(kept):
            out[i, : len(kept)] = np.asarray(kept, dtype=np.float32)
    return out


# --- Character level ----------------------------------------------------------------------

VALID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789\"'?!.,:; "
PAD = "PAD"
UNK = "UNK"


def _texts(data: Sequence[tuple[int, str]]) -> list[str]:
    """Return the texts of ``(label, text)`` pairs, checking their form once."""
    texts = []
    for i, sample in enumerate(data):
        if not isinstance(sample, tuple | list) or len(sample) != 2 or not isinstance(
            sample[1], str
        ):
            raise DataError(f"sample {i} is not a (label, text) pair: {sample!r:.60}")
        texts.append(sample[1])
    return texts


def _check_maxlen(maxlen: int) -> None:
    if not isinstance(maxlen, int) or maxlen <= 0:
        raise DataError(f"maxlen must be a positive integer, got {maxlen!r}")


def clean_data(data: Sequence[tuple[int, str]], valid: str = VALID_CHARS) -> list[list[str]]:
    """Lower-case each review and list its characters, with ``"UNK"`` for those not in ``valid``.

    Parameters
    ----------
    data : sequence of (label, text)
        As returned by :func:`pre_process_data`.
    valid : str
        The characters kept as they are: the chapter's 26 letters, 10 digits, ``"'?!.,:;`` and
        the space by default. Everything else, newlines and accented letters included, is UNK.

    Returns
    -------
    list of list of str
        One list per review of single characters and ``"UNK"`` tokens; an empty review gives
        an empty list.
    """
    allowed = set(valid)
    return [[c if c in allowed else UNK for c in text.lower()] for text in _texts(data)]


def char_pad_trunc(data: Sequence[Sequence[str]], maxlen: int = 1500) -> list[list[str]]:
    """Cut each token list to its first ``maxlen`` tokens or pad it at the end with ``"PAD"``.

    Returns new lists; a list of exactly ``maxlen`` tokens comes back as an equal copy.
    """
    _check_maxlen(maxlen)
    return [list(sample[:maxlen]) + [PAD] * (maxlen - len(sample)) for sample in data]


def create_dicts(data: Iterable[Iterable[str]]) -> tuple[dict[str, int], dict[int, str]]:
    """Return ``char_indices`` and ``indices_char``: every token seen, plus ``"PAD"`` and ``"UNK"``.

    ``"PAD"`` is index 0 and ``"UNK"`` index 1, the other tokens follow in sorted order, so the
    same data always gives the same indices (the chapter numbers a ``set`` in its hash order,
    which changes from run to run, and has ``"PAD"``/``"UNK"`` only when the data holds them).
    """
    seen = set()
    for sample in data:
        seen.update(sample)
    symbols = [PAD, UNK] + sorted(seen - {PAD, UNK})
    return {c: i for i, c in enumerate(symbols)}, dict(enumerate(symbols))


def _index(token: str, char_indices: Mapping[str, int]) -> int:
    if token in char_indices:
        return char_indices[token]
    if UNK in char_indices:
        return char_indices[UNK]
    raise DataError(f"token {token!r} is not in char_indices, which has no {UNK!r} entry either")


def onehot_encode(
    dataset: Sequence[Sequence[str]], char_indices: Mapping[str, int], maxlen: int = 1500
) -> np.ndarray:
    """One-hot encode token lists: a float32 array ``(len(dataset), maxlen, len(char_indices))``.

    As in the chapter, a sample shorter than ``maxlen`` leaves zero rows after its end (pad it
    with :func:`char_pad_trunc` first to get PAD one-hots there). A token missing from
    ``char_indices`` is encoded as ``"UNK"``. The array takes ``4 * maxlen * len(char_indices)``
    bytes per sample, about 290 kB at 1,500 characters: :func:`nlpia_lstm.tokens.char_ids` is
    the lean path.
    """
    _check_maxlen(maxlen)
    x = np.zeros((len(dataset), maxlen, len(char_indices)), dtype=np.float32)
    for i, sample in enumerate(dataset):
        if len(sample) > maxlen:
            raise DataError(f"sample {i} has {len(sample)} tokens, more than maxlen={maxlen}: "
                            "cut it with char_pad_trunc first")
        for t, token in enumerate(sample):
            x[i, t, _index(token, char_indices)] = 1.0
    return x
