"""English-Spanish sentence pairs for the translation model: read, tokenize, split, index.

The pairs are the Tatoeba sentences that manythings.org exports for Anki, one
``English<TAB>Spanish`` line each (a third column, the attribution, is ignored). Text is
NFC-normalised and lower-cased; accents (á é í ó ú ñ ü) stay as they are, and every
punctuation mark, Spanish ``¿`` and ``¡`` included, is a token of its own, so ``¿Qué hora
es?`` becomes ``¿ qué hora es ?``.

The split groups pairs by their English sentence: all translations of one English sentence
land in the same split, so no test sentence is ever seen in training. This module does not
import Keras.
"""

from __future__ import annotations

import os
import random
import re
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import Source, fetch
from .errors import DataError

# The official file publishes no checksum, and the copy used in development is an Anki export
# that may differ from it byte for byte, so a download is checked by reading it instead.
SPA_ENG = Source(
    filename="spa-eng.zip",
    url="https://storage.googleapis.com/download.tensorflow.org/data/spa-eng.zip",
    sha256=None,
)
SPA_MEMBER = "spa-eng/spa.txt"

# Decoder variants: the context only starts the decoder, or is also fed to every step.
VARIANTS = ("init", "every_step")

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = range(4)

# Numbers with their separators, words with inner apostrophes (don't, tom's), else one mark.
_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*|\w+(?:'\w+)*|[^\w\s]")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                         "\u00ab": '"', "\u00bb": '"'})
_NO_SPACE_BEFORE = set(".,;:!?)]}%…")
_NO_SPACE_AFTER = set("¿¡([{")

Pair = tuple[tuple[str, ...], tuple[str, ...]]


def normalize(text: str) -> str:
    """NFC-normalise, lower-case and straighten typographic quotes; accents are kept."""
    return unicodedata.normalize("NFC", text).translate(_QUOTES).lower().strip()


def tokenize(text: str) -> list[str]:
    """Split normalised text into words, numbers and single punctuation marks.

    >>> tokenize("¿Dónde está el baño?")
    ['¿', 'dónde', 'está', 'el', 'baño', '?']
    """
    return _TOKEN.findall(normalize(text))


def detokenize(tokens: list[str]) -> str:
    """Join tokens into readable text: no space before ``. , ? !`` nor after ``¿ ¡``."""
    text = ""
    for token in tokens:
        glue = not text or token[0] in _NO_SPACE_BEFORE or text[-1] in _NO_SPACE_AFTER
        text += token if glue else " " + token
    return text


def spa_eng_path(path: str | os.PathLike | None = None, *, progress: bool = True) -> Path:
    """Return the pairs file: ``path`` (zip, ``spa.txt`` or a folder holding either), else a
    copy in ``$NLPIA_LSTM_DATA`` or the cache, else a fresh download of ``spa-eng.zip``."""
    if path is None:
        return fetch(SPA_ENG, progress=progress)
    path = Path(path).expanduser()
    for candidate in (path, path / SPA_ENG.filename, path / "spa.txt", path / SPA_MEMBER):
        if candidate.is_file():
            return candidate
    raise DataError(f"no English-Spanish pairs at {path}: expected {SPA_ENG.filename} or spa.txt")


def read_pairs(path: str | os.PathLike | None = None, *,
               progress: bool = True) -> list[tuple[str, str]]:
    """Read ``(english, spanish)`` raw text pairs, in file order, from the zip or a ``.txt``."""
    source = spa_eng_path(path, progress=progress)
    try:
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as archive:
                member = next((n for n in archive.namelist() if n.endswith("spa.txt")), None)
                if member is None:
                    raise DataError(f"{source}: no spa.txt inside the zip")
                text = archive.read(member).decode("utf-8")
        else:
            text = source.read_text(encoding="utf-8")
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{source}: corrupt or unreadable pairs file ({exc})") from exc
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            raise DataError(f"{source}, line {number}: expected 'English<TAB>Spanish', "
                            f"got {line[:60]!r}")
        pairs.append((fields[0], fields[1]))
    if not pairs:
        raise DataError(f"{source}: no sentence pairs in it")
    return pairs


@dataclass(frozen=True)
class Splits:
    """Tokenized pairs per split; every English sentence belongs to exactly one split."""

    train: list[Pair]
    val: list[Pair]
    test: list[Pair]


def split_pairs(
    pairs: list[tuple[str, str]],
    *,
    max_tokens: int | None = 10,
    max_pairs: int | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
) -> Splits:
    """Tokenize, drop long pairs, then split with ``seed``, grouped by English sentence.

    Parameters
    ----------
    pairs : list of (str, str)
        Raw ``(english, spanish)`` text.
    max_tokens : int, optional
        Keep a pair only if both sides have at most this many tokens (punctuation counts).
    max_pairs : int, optional
        Keep about this many pairs: whole English groups are taken in shuffled order until
        the count is reached, so a group is never cut in two.
    val_fraction, test_fraction : float
        Shares of the English groups for validation and test; the rest is for training.
    seed : int
        Seed of the shuffle of the groups.
    """
    if not (0.0 < val_fraction < 1.0 and 0.0 < test_fraction < 1.0
            and val_fraction + test_fraction < 1.0):
        raise DataError(f"val_fraction and test_fraction must be in (0, 1) with a sum below 1, "
                        f"got {val_fraction} and {test_fraction}")
    groups: dict[tuple[str, ...], list[Pair]] = {}
    for english, spanish in pairs:
        source, target = tuple(tokenize(english)), tuple(tokenize(spanish))
        if not source or not target:
            continue
        if max_tokens is None or max(len(source), len(target)) <= max_tokens:
            groups.setdefault(source, []).append((source, target))
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    if max_pairs is not None:
        kept, count = [], 0
        for key in keys:
            if count >= max_pairs:
                break
            kept.append(key)
            count += len(groups[key])
        keys = kept
    n_val, n_test = round(len(keys) * val_fraction), round(len(keys) * test_fraction)
    if len(keys) - n_val - n_test < 1 or n_val < 1 or n_test < 1:
        raise DataError(f"only {len(keys)} distinct English sentences left after the limits: "
                        "too few for a train/validation/test split")

    def flat(part: list[tuple[str, ...]]) -> list[Pair]:
        return [pair for key in part for pair in groups[key]]

    return Splits(train=flat(keys[n_val + n_test:]), val=flat(keys[:n_val]),
                  test=flat(keys[n_val:n_val + n_test]))


class Vocabulary:
    """Token <-> id, with ``<pad>`` = 0 (masked), ``<unk>`` = 1, ``<s>`` = 2, ``</s>`` = 3."""

    def __init__(self, tokens) -> None:
        self.tokens = tuple(tokens)
        if self.tokens[:len(SPECIALS)] != SPECIALS:
            raise DataError(f"a vocabulary must start with {SPECIALS}")
        self._ids = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, sentences, min_count: int = 1, max_size: int | None = None) -> Vocabulary:
        """Tokens seen at least ``min_count`` times, most frequent first (ties alphabetical)."""
        counts = Counter(token for sentence in sentences for token in sentence)
        ranked = sorted((t for t, n in counts.items() if n >= min_count and t not in SPECIALS),
                        key=lambda t: (-counts[t], t))
        return cls(SPECIALS + tuple(ranked[:max_size]))

    def __len__(self) -> int:
        return len(self.tokens)

    def ids(self, tokens) -> list[int]:
        return [self._ids.get(t, UNK_ID) for t in tokens]

    def unknown(self, tokens) -> list[str]:
        """The tokens of ``tokens`` that this vocabulary maps to ``<unk>``."""
        return [t for t in tokens if t not in self._ids]

    def words(self, ids) -> list[str]:
        """Tokens for ``ids``, stopping at ``</s>`` and leaving out ``<pad>`` and ``<s>``."""
        words = []
        for i in ids:
            if i == EOS_ID:
                break
            if i not in (PAD_ID, BOS_ID):
                words.append(self.tokens[i])
        return words


def encode_source(sentences, vocab: Vocabulary, length: int | None = None) -> np.ndarray:
    """Right-padded ``(n, length)`` int32 ids of tokenized source sentences (no markers)."""
    rows = [vocab.ids(s) for s in sentences]
    length = length or max(len(r) for r in rows)
    out = np.full((len(rows), length), PAD_ID, dtype="int32")
    for i, row in enumerate(rows):
        out[i, :min(len(row), length)] = row[:length]
    return out


def teacher_forcing(sentences, vocab: Vocabulary,
                    length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decoder inputs and targets for teacher forcing, both right-padded to ``length``.

    The input is ``<s> y1 ... yn`` and the target ``y1 ... yn </s>``: at every step the
    decoder reads the gold previous token and is scored on the next one.
    """
    rows = [vocab.ids(s) for s in sentences]
    length = length or max(len(r) for r in rows) + 1
    inputs = np.full((len(rows), length), PAD_ID, dtype="int32")
    targets = np.full((len(rows), length), PAD_ID, dtype="int32")
    for i, row in enumerate(rows):
        row = row[:length - 1]
        inputs[i, :len(row) + 1] = [BOS_ID] + row
        targets[i, :len(row) + 1] = row + [EOS_ID]
    return inputs, targets


def references(pairs: list[Pair]) -> tuple[list[tuple[str, ...]], list[list[list[str]]]]:
    """Distinct source sentences, in first-seen order, each with all its translations."""
    grouped: dict[tuple[str, ...], list[list[str]]] = {}
    for source, target in pairs:
        grouped.setdefault(source, []).append(list(target))
    return list(grouped), list(grouped.values())


def translator_files(path: str | os.PathLike) -> tuple[Path, Path]:
    """Return a saved translator's ``.keras`` file and its ``.json`` vocabularies beside it,
    checking that both exist (without importing Keras, so a bad path fails fast)."""
    path = Path(path)
    meta_path = path.with_suffix(".json")
    if not path.is_file():
        raise DataError(f"no translation model at {path}: train one with 'nlpia-lstm "
                        "train-translator experiments/translate_spa.toml' or give --model")
    if not meta_path.is_file():
        raise DataError(f"{path}: its vocabularies {meta_path.name} are missing beside it")
    return path, meta_path
