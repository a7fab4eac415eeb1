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
from numbers import Integral

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

    Parameters
    ----------
    filepath : path-like
        A folder such as ``aclImdb/train`` with ``pos`` and ``neg`` folders below it.
    seed : int, optional
        Shuffle with a generator of its own seeded with ``seed``: the same order every time.
        ``None`` (the default) shuffles with :func:`random.shuffle`, as the chapter does, so
        ``random.seed(s)`` before the call gives the same order as ``seed=s``.

    Returns
    -------
    list of (int, str)
        ``(label, text)`` pairs. The files are read in sorted name order before the shuffle
        (the chapter reads them in the file system's order), as UTF-8 text.

    Raises
    ------
    DataError
        No review below ``filepath`` (the chapter returns an empty list).
    """
    dataset = []
    for sub, label in (("pos", 1), ("neg", 0)):
        for filename in sorted(glob.glob(os.path.join(filepath, sub, "*.txt"))):
            with open(filename, encoding="utf-8") as f:
                dataset.append((label, f.read()))
    if not dataset:
        raise DataError(f"no reviews in {filepath}: expected pos/*.txt and neg/*.txt below it")
    if seed is None:
        random.shuffle(dataset)
    else:
        random.Random(seed).shuffle(dataset)
    return dataset


def tokenize_and_vectorize(dataset: Sequence[tuple[int, str]], word_vectors: Mapping) -> list[list]:
    """Tokenize each review (Treebank) and replace every token by its vector, dropping unknown ones.

    Parameters
    ----------
    dataset : sequence of (label, text)
        As returned by :func:`pre_process_data`.
    word_vectors : mapping
        Anything whose ``word_vectors[token]`` gives a vector or raises ``KeyError``, such as
        gensim's ``KeyedVectors`` (the chapter reads a global ``word_vectors`` instead).

    Returns
    -------
    list of list
        Per review, the vectors of its tokens in order; a token whose lookup raises
        ``KeyError`` is skipped, as in the chapter (``except KeyError: pass``).
    """
    from nltk.tokenize import TreebankWordTokenizer

    tokenizer = TreebankWordTokenizer()
    vectorized = []
    for text in _texts(dataset):
        sample_vecs = []
        for token in tokenizer.tokenize(text):
            try:
                sample_vecs.append(word_vectors[token])
            except KeyError:
                continue
        vectorized.append(sample_vecs)
    return vectorized


def collect_expected(dataset: Sequence[Sequence]) -> list:
    """Return the labels, ``sample[0]`` of each sample, in order.

    Parameters
    ----------
    dataset : sequence of (label, text)
        As returned by :func:`pre_process_data`.

    Returns
    -------
    list
        The labels (1 positive, 0 negative for IMDB).
    """
    return [sample[0] for sample in dataset]


def pad_trunc(
    data: Sequence[Sequence], maxlen: int, embedding_dims: int | None = None
) -> np.ndarray:
    """Keep each sample's first ``maxlen`` vectors, padding shorter ones at the end with zeros.

    Parameters
    ----------
    data : sequence of sequences of vectors
        As returned by :func:`tokenize_and_vectorize`; left unchanged (the chapter appends its
        zero vectors to the caller's lists).
    maxlen : int
        Vectors per sample.
    embedding_dims : int, optional
        Length of a vector; read from the first non-empty sample when not given (the chapter
        reads it from the first sample, which fails when that sample is empty).

    Returns
    -------
    numpy.ndarray
        float32, ``(len(data), maxlen, embedding_dims)``: the values of the chapter's nested
        lists after its ``np.reshape(x, (len(x), maxlen, embedding_dims))``, which are float64.

    Raises
    ------
    DataError
        ``maxlen`` is not positive, or every sample is empty and ``embedding_dims`` is not given.
    """
    _check_maxlen(maxlen)
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

#: The chapter's ``VALID`` characters in ``clean_data``: a-z, 0-9, ``"'?!.,:;`` and the space
#: (the companion code's ``ch09.py`` and ``ch09.ipynb`` leave out the 0; see
#: ``docs/chapter9_extras.md``).
VALID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789\"'?!.,:; "
#: The chapter's padding token (``char_pad_trunc``).
PAD = "PAD"
#: The chapter's token for a character outside ``VALID_CHARS`` (``clean_data``).
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
    if isinstance(maxlen, bool) or not isinstance(maxlen, Integral) or maxlen <= 0:
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
        One list per review of single characters and ``"UNK"`` tokens, one per character of
        the lower-cased text (lower-casing comes first, as in the chapter, and can lengthen a
        text: ``"\u0130".lower()`` is two characters); an empty review gives an empty list.

    Raises
    ------
    DataError
        A sample is not a ``(label, text)`` pair.
    """
    allowed = set(valid)
    return [[c if c in allowed else UNK for c in text.lower()] for text in _texts(data)]


def char_pad_trunc(data: Sequence[Sequence[str]], maxlen: int = 1500) -> list[list[str]]:
    """Cut each token list to its first ``maxlen`` tokens or pad it at the end with ``"PAD"``.

    Parameters
    ----------
    data : sequence of sequences of str
        As returned by :func:`clean_data`.
    maxlen : int
        Tokens per sample (the chapter's 1,500 by default).

    Returns
    -------
    list of list of str
        New lists, each of ``maxlen`` tokens; a list of exactly ``maxlen`` tokens comes back
        as an equal copy (the chapter returns that list itself).

    Raises
    ------
    DataError
        ``maxlen`` is not a positive integer.
    """
    _check_maxlen(maxlen)
    return [list(sample[:maxlen]) + [PAD] * (maxlen - len(sample)) for sample in data]


def create_dicts(data: Iterable[Iterable[str]]) -> tuple[dict[str, int], dict[int, str]]:
    """Return ``char_indices`` and ``indices_char``: every token seen, plus ``"PAD"`` and ``"UNK"``.

    Parameters
    ----------
    data : iterable of iterables of str
        As returned by :func:`char_pad_trunc`.

    Returns
    -------
    char_indices : dict of str to int
        ``"PAD"`` is index 0 and ``"UNK"`` index 1, the other tokens follow in sorted order,
        so the same data always gives the same indices. The chapter numbers a ``set`` in its
        hash order, which changes from run to run (a permutation of these indices), and has
        ``"PAD"``/``"UNK"`` only when the data holds them.
    indices_char : dict of int to str
        The inverse mapping.
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

    Parameters
    ----------
    dataset : sequence of sequences of str
        As returned by :func:`char_pad_trunc`.
    char_indices : mapping of str to int
        As returned by :func:`create_dicts`.
    maxlen : int
        Positions per sample (the chapter's 1,500 by default).

    Returns
    -------
    numpy.ndarray
        Position ``t`` of sample ``i`` has a 1 at ``char_indices[token]``, as in the chapter
        (whose array is float64). A sample shorter than ``maxlen`` leaves zero rows after its
        end, as in the chapter (pad it with :func:`char_pad_trunc` first to get PAD one-hots
        there). A token missing from ``char_indices`` is encoded as ``"UNK"`` (the chapter
        raises ``KeyError``). The array takes ``4 * maxlen * len(char_indices)`` bytes per
        sample, 282 kB at 1,500 characters and 47 symbols: :func:`nlpia_lstm.tokens.char_ids`
        is the lean path.

    Raises
    ------
    DataError
        ``maxlen`` is not a positive integer, a sample is longer than ``maxlen``, or a token
        is missing from ``char_indices`` and it has no ``"UNK"`` entry.
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
