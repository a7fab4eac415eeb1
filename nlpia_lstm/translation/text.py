"""English-Spanish sentence pairs as the translation model reads them: tokens, splits, ids.

The pairs are the Tatoeba sentences that manythings.org exports for Anki, read by
:func:`nlpia_lstm.data.read_pairs`. Text is
NFC-normalised and lower-cased; accents (á é í ó ú ñ ü) stay as they are, and every
punctuation mark, Spanish ``¿`` and ``¡`` included, is a token of its own, so ``¿Qué hora
es?`` becomes ``¿ qué hora es ?``.

The split groups pairs by their English sentence: all translations of one English sentence
land in the same split, so no test sentence is ever seen in training.

Two vocabularies turn tokenized sentences into ids and ids back into text, with the same
special ids: :class:`Vocabulary` (whole words, rare ones read as ``<unk>``) and
:class:`SentencePieceVocabulary` (sentencepiece unigram subwords of the detokenized text,
trained on the training split only, so no word is unknown). This module does not import Keras.
"""

from __future__ import annotations

import base64
import io
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DataError

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
        return [self.tokens[i] for i in content_ids(ids)]

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of a tokenized sentence (no markers)."""
        return self.ids(tokens)

    def decode(self, ids) -> str:
        """Readable text of ``ids``, up to ``</s>``."""
        return detokenize(self.words(ids))

    def piece(self, i: int) -> str:
        """The token of id ``i``."""
        return self.tokens[i]

    def pieces(self, tokens: Sequence[str]) -> list[str]:
        """The units the model reads for ``tokens``: here the tokens, unknown ones as ``<unk>``."""
        return [self.tokens[i] for i in self.ids(tokens)]

    def to_json(self) -> list[str]:
        """What a translator's sidecar stores: the token list."""
        return list(self.tokens)


class SentencePieceVocabulary:
    """Sentencepiece unigram pieces of detokenized text, with the special ids of :data:`SPECIALS`.

    Parameters
    ----------
    model_proto : bytes
        A trained sentencepiece model, serialized (see :meth:`train`).
    """

    def __init__(self, model_proto: bytes) -> None:
        import sentencepiece

        self.model_proto = bytes(model_proto)
        try:
            self._sp = sentencepiece.SentencePieceProcessor(model_proto=self.model_proto)
        except RuntimeError as exc:
            raise DataError(f"not a sentencepiece model ({exc})") from exc
        if tuple(self._sp.id_to_piece(i) for i in range(len(SPECIALS))) != SPECIALS:
            raise DataError(f"a sentencepiece vocabulary must start with {SPECIALS}")

    @classmethod
    def train(cls, sentences: Iterable[Sequence[str]], vocab_size: int) -> SentencePieceVocabulary:
        """Train a unigram model of at most ``vocab_size`` pieces on tokenized sentences.

        The sentences are detokenized first, as :meth:`encode` does. One thread, so that the
        same sentences always give the same model; ``vocab_size`` is an upper bound, so that
        small corpora work too.
        """
        import sentencepiece

        model = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=(detokenize(list(s)) for s in sentences), model_writer=model,
            vocab_size=vocab_size, hard_vocab_limit=False, model_type="unigram",
            character_coverage=1.0, normalization_rule_name="identity", pad_id=PAD_ID,
            unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID, pad_piece=PAD, unk_piece=UNK,
            bos_piece=BOS, eos_piece=EOS, num_threads=1, minloglevel=2)
        return cls(model.getvalue())

    def __len__(self) -> int:
        return self._sp.get_piece_size()

    def __getstate__(self) -> dict:  # picklable for Dask: the processor is rebuilt from bytes
        return {"model_proto": self.model_proto}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["model_proto"])

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Piece ids of a tokenized sentence, detokenized first (no markers)."""
        return self._sp.encode(detokenize(list(tokens)))

    def decode(self, ids) -> str:
        """Readable text of ``ids``, up to ``</s>``."""
        return self._sp.decode(content_ids(ids))

    def piece(self, i: int) -> str:
        """The piece of id ``i`` (``▁`` marks the start of a word)."""
        return self._sp.id_to_piece(int(i))

    def pieces(self, tokens: Sequence[str]) -> list[str]:
        """The pieces the model reads for ``tokens``."""
        return [self.piece(i) for i in self.encode(tokens)]

    def unknown(self, tokens: Sequence[str]) -> list[str]:
        """The tokens with a character that no piece holds (read as ``<unk>``)."""
        return [t for t in tokens if UNK_ID in self._sp.encode(t)]

    def to_json(self) -> dict:
        """What a translator's sidecar stores: the serialized model, base64-encoded."""
        return {"sentencepiece": base64.b64encode(self.model_proto).decode("ascii")}


def content_ids(ids) -> list[int]:
    """``ids`` up to the first ``</s>``, without ``<pad>`` and ``<s>``."""
    out = []
    for i in ids:
        i = int(i)
        if i == EOS_ID:
            break
        if i not in (PAD_ID, BOS_ID):
            out.append(i)
    return out


def vocabulary_from_json(value) -> Vocabulary | SentencePieceVocabulary:
    """The vocabulary a sidecar stores (:meth:`Vocabulary.to_json` or
    :meth:`SentencePieceVocabulary.to_json`)."""
    if isinstance(value, dict) and isinstance(value.get("sentencepiece"), str):
        try:
            proto = base64.b64decode(value["sentencepiece"], validate=True)
        except ValueError as exc:
            raise DataError(f"unreadable sentencepiece model ({exc})") from exc
        return SentencePieceVocabulary(proto)
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return Vocabulary(value)
    raise DataError("a vocabulary must be a list of tokens or a sentencepiece model")


def build_vocabularies(train: list[Pair], kind: str = "word", *, min_count: int = 1,
                       max_vocab: int | None = None, vocab_size: int = 4000):
    """Source and target vocabularies of kind ``"word"`` or ``"sentencepiece"``, built from
    the training pairs only."""
    sources, targets = [s for s, _ in train], [t for _, t in train]
    if kind == "sentencepiece":
        return (SentencePieceVocabulary.train(sources, vocab_size),
                SentencePieceVocabulary.train(targets, vocab_size))
    if kind == "word":
        return (Vocabulary.build(sources, min_count, max_vocab),
                Vocabulary.build(targets, min_count, max_vocab))
    raise DataError(f"unknown vocabulary {kind!r}; choose word or sentencepiece")


def encode_source(sentences, vocab: Vocabulary | SentencePieceVocabulary,
                  length: int | None = None) -> np.ndarray:
    """Right-padded ``(n, length)`` int32 ids of tokenized source sentences (no markers)."""
    rows = [vocab.encode(s) for s in sentences]
    length = length or max(len(r) for r in rows)
    out = np.full((len(rows), length), PAD_ID, dtype="int32")
    for i, row in enumerate(rows):
        out[i, :min(len(row), length)] = row[:length]
    return out


def teacher_forcing(sentences, vocab: Vocabulary | SentencePieceVocabulary,
                    length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decoder inputs and targets for teacher forcing, both right-padded to ``length``.

    The input is ``<s> y1 ... yn`` and the target ``y1 ... yn </s>``: at every step the
    decoder reads the gold previous token and is scored on the next one.
    """
    rows = [vocab.encode(s) for s in sentences]
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
