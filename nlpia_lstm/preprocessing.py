"""Text to model input: the chapter's own utilities and the fast, memory-lean path the grid uses.

The chapter (NLP in Action, ch. 9) keeps every review as a list of 300-d vectors::

    dataset = pre_process_data("aclImdb/train")
    vectorized = tokenize_and_vectorize(dataset, word_vectors)
    expected = collect_expected(dataset)
    x = pad_trunc(vectorized, maxlen=400)

That is about 0.5 GB per 1,000 reviews as float32, so the grid instead keeps token ids
(:class:`TokenizedCorpus`, :func:`ids_matrix`) and lets a frozen ``Embedding`` holding the same
vectors look them up: the network sees exactly the same input (a test checks it).

The character-level model of the chapter goes the same way::

    listified_data = clean_data(dataset)
    common_length_data = char_pad_trunc(listified_data, maxlen=1500)
    char_indices, indices_char = create_dicts(common_length_data)
    encoded_data = onehot_encode(common_length_data, char_indices, 1500)

and :func:`char_ids` gives the same thing as one small integer per character (the index of the
one-hot's 1), which a frozen identity ``Embedding`` turns back into the one-hot vectors.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import random
import sys
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from . import data
from .errors import DataError

__all__ = [
    "pre_process_data",
    "tokenize_and_vectorize",
    "collect_expected",
    "pad_trunc",
    "tokenize",
    "TokenizedCorpus",
    "tokenize_corpus",
    "ids_matrix",
    "load_imdb_tokens",
    "VALID_CHARS",
    "PAD",
    "UNK",
    "clean_data",
    "char_pad_trunc",
    "create_dicts",
    "onehot_encode",
    "char_ids",
]

_CHUNK = 500


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


# --- The fast path: token ids, tokenized once and cached ---------------------------------------


def _tokenize_chunk(texts: list[str]) -> list[list[str]]:
    from nltk.tokenize import TreebankWordTokenizer

    tokenize_one = TreebankWordTokenizer().tokenize
    return [tokenize_one(t) for t in texts]


def tokenize(texts: Iterable[str], n_jobs: int | None = None, progress: bool = False):
    """Yield the Treebank tokens of each text, in order, using ``n_jobs`` processes.

    Texts go to the workers in chunks, so only a few chunks of tokens are alive at once.
    """
    from tqdm.auto import tqdm

    texts = list(texts)
    chunks = [texts[i : i + _CHUNK] for i in range(0, len(texts), _CHUNK)]
    n_jobs = n_jobs or min(len(os.sched_getaffinity(0)), 8)
    # Forking a process that already runs a threaded backend's thread pools can deadlock the
    # child, and spawning re-runs the caller's unguarded script: stay in-process then.
    threaded = any(m in sys.modules for m in ("tensorflow", "jax", "torch"))
    if threaded or n_jobs == 1 or len(chunks) <= 1:
        pool = None
        results = map(_tokenize_chunk, chunks)
    else:
        pool = ProcessPoolExecutor(n_jobs, mp_context=get_context("fork"))
        results = pool.map(_tokenize_chunk, chunks)
    try:
        with tqdm(total=len(texts), desc="tokenizing", unit="doc", disable=not progress) as bar:
            for tokens in results:
                bar.update(len(tokens))
                yield from tokens
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


@dataclass
class TokenizedCorpus:
    """Tokenized documents stored as flat token ids: memory-lean and quick to save and load.

    Document ``i`` is ``vocab[ids[offsets[i]:offsets[i + 1]]]``.
    """

    vocab: list[str]
    ids: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def tokens(self, i: int) -> list[str]:
        """Return the tokens of document ``i``."""
        return [self.vocab[j] for j in self.ids[self.offsets[i] : self.offsets[i + 1]]]

    def __iter__(self):
        for i in range(len(self)):
            yield self.tokens(i)

    def subset(self, indices: Sequence[int]) -> TokenizedCorpus:
        """Return the documents at ``indices`` (same vocabulary), in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        starts, ends = self.offsets[indices], self.offsets[indices + 1]
        lengths = ends - starts
        offsets = np.zeros(len(indices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # Position k of the new flat array reads old position starts[doc] + (k - offsets[doc]).
        doc = np.repeat(np.arange(len(indices)), lengths)
        take = starts[doc] + (np.arange(offsets[-1]) - offsets[doc])
        return TokenizedCorpus(self.vocab, self.ids[take], offsets, self.labels[indices])

    def save(self, path: str | os.PathLike) -> None:
        """Save as ``.npz`` without pickle (the vocabulary as UTF-8 text)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".part.npz")
        vocab = np.frombuffer("\n".join(self.vocab).encode("utf-8"), dtype=np.uint8)
        np.savez(tmp, vocab=vocab, ids=self.ids, offsets=self.offsets, labels=self.labels)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TokenizedCorpus:
        """Load a corpus written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as f:
                vocab = f["vocab"].tobytes().decode("utf-8").split("\n")
                return cls(vocab, f["ids"], f["offsets"], f["labels"])
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{path}: corrupt token cache ({exc}); delete it to rebuild") from exc


def tokenize_corpus(
    dataset: Sequence[tuple[int, str]], n_jobs: int | None = None, progress: bool = False
) -> TokenizedCorpus:
    """Tokenize ``(label, text)`` pairs into a :class:`TokenizedCorpus`."""
    index: dict[str, int] = {}
    ids: list[np.ndarray] = []
    lengths = np.zeros(len(dataset), dtype=np.int64)
    texts = (text for _, text in dataset)
    for i, tokens in enumerate(tokenize(texts, n_jobs=n_jobs, progress=progress)):
        ids.append(np.fromiter((index.setdefault(t, len(index)) for t in tokens), np.int32,
                               count=len(tokens)))
        lengths[i] = len(tokens)
    offsets = np.zeros(len(dataset) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int32)
    labels = np.asarray([label for label, _ in dataset], dtype=np.int8)
    return TokenizedCorpus(list(index), flat, offsets, labels)


def ids_matrix(corpus: TokenizedCorpus, key_to_row: Mapping[str, int], maxlen: int) -> np.ndarray:
    """Return ``(len(corpus), maxlen)`` int32 rows of an embedding matrix, one line per document.

    Tokens without a row are dropped, then each document is cut to its first ``maxlen`` tokens
    or padded at the end with row 0, the zero vector: the chapter's ``tokenize_and_vectorize``
    followed by ``pad_trunc``, as ids into the matrix instead of the vectors themselves.
    """
    if maxlen <= 0:
        raise DataError(f"maxlen must be positive, got {maxlen}")
    row_of = np.fromiter((key_to_row.get(t, 0) for t in corpus.vocab), np.int32,
                         count=len(corpus.vocab))
    rows = row_of[corpus.ids]
    out = np.zeros((len(corpus), maxlen), dtype=np.int32)
    for i in range(len(corpus)):
        doc = rows[corpus.offsets[i] : corpus.offsets[i + 1]]
        doc = doc[doc > 0][:maxlen]
        out[i, : len(doc)] = doc
    return out


def cache_key(**parts) -> str:
    """A short stable hash of what produced a cached file."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_imdb_tokens(
    path: str | os.PathLike | None = None,
    splits: Sequence[str] = ("train",),
    *,
    n_jobs: int | None = None,
    progress: bool = False,
) -> dict[str, TokenizedCorpus]:
    """Read and tokenize IMDB splits once, then serve them from the cache.

    The cache key is the data file (path, size, modification time), the split and the NLTK
    version, so a changed archive or tokenizer gives a fresh tokenization.
    """
    import nltk

    source = data.imdb_path(path, progress=progress)
    folder = data.cache_dir() / "tokens"
    files = {}
    for split in splits:
        key = cache_key(source=data.file_identity(source), split=split, nltk=nltk.__version__)
        files[split] = folder / f"imdb-{split}-{key}.npz"
    missing = tuple(s for s, f in files.items() if not f.is_file())
    if missing:
        folder.mkdir(parents=True, exist_ok=True)
        texts = data.read_imdb(source, missing, progress=progress)
        for split in missing:
            if progress:
                print(f"tokenizing IMDB {split} ({len(texts[split]):,} reviews)", flush=True)
            tokenize_corpus(texts.pop(split), n_jobs=n_jobs, progress=progress).save(files[split])
    return {split: TokenizedCorpus.load(f) for split, f in files.items()}


# --- Character level: the chapter's utilities and their memory-lean twin ----------------------

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
    bytes per sample, about 290 kB at 1,500 characters: :func:`char_ids` is the lean path.
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


def char_ids(
    data: Sequence[tuple[int, str]],
    char_indices: Mapping[str, int],
    maxlen: int = 1500,
    valid: str = VALID_CHARS,
) -> np.ndarray:
    """Reviews straight to an int32 array ``(len(data), maxlen)`` of indices into ``char_indices``.

    The same as ``onehot_encode(char_pad_trunc(clean_data(data, valid), maxlen), char_indices,
    maxlen).argmax(-1)`` in 4 bytes per character instead of ``4 * len(char_indices)``: a
    frozen ``Embedding`` holding the identity matrix maps it back to that one-hot array.
    """
    _check_maxlen(maxlen)
    if PAD not in char_indices:
        raise DataError(f"char_indices needs a {PAD!r} entry to pad short reviews")
    if any(ord(c) >= 128 for c in valid):
        raise DataError("char_ids handles only ASCII valid characters; use onehot_encode")
    unk = _index(UNK, char_indices)
    # One lookup-table entry per ASCII code point; any other code point is unknown.
    # Lower-casing can change a text's length, so it comes before the cut.
    table = np.full(128, unk, dtype=np.int32)
    for c in set(valid):
        table[ord(c)] = _index(c, char_indices)
    out = np.full((len(data), maxlen), char_indices[PAD], dtype=np.int32)
    for i, text in enumerate(_texts(data)):
        points = np.frombuffer(text.lower()[:maxlen].encode("utf-32-le"), dtype=np.uint32)
        out[i, : len(points)] = np.where(points < 128, table[np.minimum(points, 127)], unk)
    return out
