"""The fast, memory-lean path from text to model input: token ids, tokenized once and cached.

A :class:`TokenizedCorpus` keeps Treebank tokens as flat integer ids; :func:`ids_matrix` turns it
into the ``(n, maxlen)`` rows of an embedding matrix that a frozen ``Embedding`` looks up, the
chapter's ``tokenize_and_vectorize`` + ``pad_trunc`` as ids. :func:`char_ids` does the same for
the character-level model. :func:`load_imdb_tokens` tokenizes IMDB once and serves it from the
cache afterwards. This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np

from . import data
from .errors import DataError
from .preprocessing import PAD, UNK, VALID_CHARS, _check_maxlen, _index, _texts

__all__ = [
    "tokenize",
    "TokenizedCorpus",
    "tokenize_corpus",
    "ids_matrix",
    "char_ids",
    "cache_key",
    "load_imdb_tokens",
]

log = logging.getLogger(__name__)

_CHUNK = 500


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
        """Save as ``.npz`` without pickle (the vocabulary as UTF-8 text), atomically.

        The arrays go to a temporary file of a unique name beside ``path``, renamed to it
        once complete, so concurrent writers and readers never see a part-written file.
        """
        vocab = np.frombuffer("\n".join(self.vocab).encode("utf-8"), dtype=np.uint8)
        with data.atomic_write(path, suffix=".npz") as tmp:
            np.savez(tmp, vocab=vocab, ids=self.ids, offsets=self.offsets, labels=self.labels)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TokenizedCorpus:
        """Load a corpus written by :meth:`save`.

        Raises
        ------
        DataError
            The file is missing, cut short, emptied or otherwise not what :meth:`save` wrote.
        """
        try:
            with np.load(path, allow_pickle=False) as f:
                vocab = f["vocab"].tobytes().decode("utf-8").split("\n")
                corpus = cls(vocab, f["ids"], f["offsets"], f["labels"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(f"{path}: corrupt token cache ({type(exc).__name__}: {exc}); "
                            "delete it to rebuild") from exc
        if (corpus.offsets.ndim != 1 or len(corpus.offsets) != len(corpus.labels) + 1
                or (len(corpus.offsets) and corpus.offsets[-1] != len(corpus.ids))):
            raise DataError(f"{path}: corrupt token cache (its arrays do not fit together); "
                            "delete it to rebuild")
        return corpus


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

    The cache key is the data file's identity (:func:`nlpia_lstm.data.file_identity`: an
    archive's SHA-256, a folder's path and modification time), the split and the NLTK version,
    so a changed archive or tokenizer gives a fresh tokenization. A cache file that cannot be
    read (cut short, emptied, damaged) is moved aside (:func:`nlpia_lstm.data.set_aside`) and
    rebuilt; a lock per file (:func:`nlpia_lstm.data.cache_lock`) lets concurrent runs on a
    cold cache tokenize each split once.
    """
    import nltk

    source = data.imdb_path(path, progress=progress)
    folder = data.cache_dir() / "tokens"
    folder.mkdir(parents=True, exist_ok=True)
    identity = data.file_identity(source)
    keys = {split: cache_key(source=identity, split=split, nltk=nltk.__version__)
            for split in splits}
    files = {split: folder / f"imdb-{split}-{key}.npz" for split, key in keys.items()}
    corpora: dict[str, TokenizedCorpus] = {}
    texts: dict[str, list[tuple[int, str]]] = {}
    for split, file in files.items():
        # One process tokenizes a split; another one on the same cold cache waits, then reads.
        with data.cache_lock(file):
            if file.is_file():
                try:
                    corpora[split] = TokenizedCorpus.load(file)
                    continue
                except DataError as exc:
                    data.set_aside(file, str(exc.__cause__ or exc))
            if split not in texts:  # read the archive once for every split still to tokenize
                todo = tuple(s for s, f in files.items()
                             if s == split or (s not in corpora and not f.is_file()))
                texts = data.read_imdb(source, todo, progress=progress)
            log.info("tokenizing IMDB %s (%s reviews)", split, f"{len(texts[split]):,}")
            corpora[split] = tokenize_corpus(texts.pop(split), n_jobs=n_jobs, progress=progress)
            corpora[split].save(file)
    return corpora


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
