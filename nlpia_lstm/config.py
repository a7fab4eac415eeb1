"""Experiment configs: TOML files read into frozen settings, checked once, when they are read.

Two kinds of experiment share one reader and one validator:

- a sentiment **grid** (:class:`Experiment`): IMDB data, word vectors, training settings and the
  ``[[models]]`` cells, each trained once per seed;
- a **translation** experiment (:class:`TranslationExperiment`): English-Spanish pairs, the
  encoder-decoder's settings, training and decoding.

A grid config reads like this (every key but ``name`` and ``[[models]]`` has the chapter's
default)::

    name = "table_19b"
    seeds = [0, 1, 2]

    [data]                 # IMDB; path = archive or aclImdb/ folder, else found or downloaded
    level = "word"         # or "char": one-hot characters, no [vectors] (see below)
    val_fraction = 0.2
    split_seed = 0
    score_test = true

    [vectors]              # path = a word2vec file; without one, word2vec is trained
    [vectors.word2vec]
    vector_size = 300

    [training]
    epochs = 2
    batch_size = 32
    maxlen = 400

    [[models]]             # arch and units (and depth, default 1) may be lists: all combinations
    arch = "birnn"
    units = [50, 40, 30, 20, 10, 5, 1]

A translation config has the tables ``[data]``, ``[model]``, ``[training]`` and ``[decoding]``
(see :class:`TranslationExperiment`). Relative paths in a config are read from the config
file's folder.

With ``level = "char"`` the model reads characters instead of words, as in the chapter's
character-level classifier: each review is lower-cased, characters outside ``valid_chars`` (the
chapter's ``abcdefghijklmnopqrstuvwxyz0123456789"'?!.,:;`` and space when not given) become
UNK, it is cut or padded to ``training.maxlen`` characters (the chapter uses 1500) and every
character is one-hot encoded. There are no word vectors then, so no ``[vectors]`` table.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from .errors import ConfigError

__all__ = [
    "ARCHITECTURES", "BACKENDS", "LEVELS", "OPTIMIZERS", "VARIANTS", "VOCABULARIES",
    "DataSettings",
    "Word2VecSettings", "VectorSettings", "TrainingSettings", "Experiment", "PairsSettings",
    "TranslatorSettings", "TranslatorTraining", "DecodingSettings", "TranslationExperiment",
    "load_config", "load_translation_config", "parse_config", "parse_translation_config",
    "read_toml", "resolve_path",
]

ARCHITECTURES = ("simple_rnn", "birnn", "lstm", "bilstm", "gru")
LEVELS = ("word", "char")
# The names keras.optimizers.get accepts, so that a typo fails when the config is read, not
# after the data are prepared.
OPTIMIZERS = ("adadelta", "adafactor", "adagrad", "adam", "adamax", "adamw", "ftrl", "lamb",
              "lion", "nadam", "rmsprop", "sgd")
# Translation decoder variants: the context only starts the decoder, is also fed to every step,
# or each decoder step attends over all the encoder's states.
VARIANTS = ("init", "every_step", "attention")
BACKENDS = ("tensorflow", "jax", "torch")
# Translation vocabularies: whole words (rare ones become <unk>), or sentencepiece subwords.
VOCABULARIES = ("word", "sentencepiece")

_T = TypeVar("_T")
_POSITIVE = "positive"
# A settings field whose number must be above zero; every other number must not be negative.
Positive = Annotated[_T, _POSITIVE]

# Largest sensible sizes: beyond them an array would not fit any machine (a typo, not a plan).
_MAX_MAXLEN = 100_000

# --- Grid settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSettings:
    """``[data]`` of a grid: which IMDB reviews, at what level, and how they are split."""

    path: str | None = None
    level: str = "word"
    valid_chars: str | None = None
    val_fraction: float = 0.2
    split_seed: int = 0
    max_reviews: Positive[int] | None = None
    score_test: bool = False
    max_test: Positive[int] | None = None


@dataclass(frozen=True)
class Word2VecSettings:
    """``[vectors.word2vec]``: how word2vec is trained when no vectors file is given."""

    vector_size: Positive[int] = 300
    window: Positive[int] = 5
    min_count: Positive[int] = 5
    epochs: Positive[int] = 5
    sg: int = 0
    seed: int = 0
    workers: Positive[int] = 1
    use_unsup: bool = True


@dataclass(frozen=True)
class VectorSettings:
    """``[vectors]``: a word2vec file to load, or settings to train one."""

    path: str | None = None
    limit: Positive[int] | None = 200_000
    binary: bool | None = None
    word2vec: Word2VecSettings = field(default_factory=Word2VecSettings)


@dataclass(frozen=True)
class TrainingSettings:
    """``[training]`` of a grid: the chapter's settings by default."""

    epochs: Positive[int] = 2
    batch_size: Positive[int] = 32
    maxlen: Positive[int] = 400
    dropout: float = 0.2
    optimizer: str = "rmsprop"
    # The Keras backend the cells run on; by default whatever Keras is set to (KERAS_BACKEND).
    # A cell's figures depend on it (each backend draws its own random numbers), so a row
    # records it and its key holds it.
    backend: str | None = None


@dataclass(frozen=True)
class Experiment:
    """A grid: every (arch, units, depth) cell in ``cells``, each trained once per seed."""

    name: str
    cells: tuple[tuple[str, int, int], ...]
    seeds: tuple[int, ...] = (0,)
    description: str = ""
    data: DataSettings = field(default_factory=DataSettings)
    vectors: VectorSettings = field(default_factory=VectorSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)


# --- Translation settings -----------------------------------------------------------------


@dataclass(frozen=True)
class PairsSettings:
    """``[data]`` of a translation experiment: which sentence pairs, split and vocabulary.

    Attributes
    ----------
    path : str, optional
        ``spa-eng.zip`` or ``spa.txt``; else found or downloaded.
    max_tokens : int
        Keep a pair only if both sides have at most this many word tokens.
    max_pairs : int
        About this many pairs, whole English groups; 0 keeps them all.
    val_fraction, test_fraction : float
        Shares of the English sentences for validation and test.
    split_seed : int
        Seed of the split.
    vocabulary : {"word", "sentencepiece"}
        Whole words, or sentencepiece unigram subwords trained on the training split.
    min_count, max_vocab : int
        Word vocabulary: rarer training tokens become ``<unk>``; at most ``max_vocab`` words
        per language (0: no limit).
    vocab_size : int
        Sentencepiece vocabulary: at most this many pieces per language, specials included.
    """

    path: str | None = None
    max_tokens: Positive[int] = 10
    max_pairs: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    vocabulary: str = "word"
    min_count: Positive[int] = 2
    max_vocab: int = 0
    vocab_size: Positive[int] = 4000


@dataclass(frozen=True)
class TranslatorSettings:
    """``[model]``: the encoder-decoder's variants and sizes.

    Attributes
    ----------
    variants : tuple of str
        Decoder variants to train, each once: some of :data:`VARIANTS`.
    embedding_dim : int
        Size of the source and target word embeddings.
    units : int
        Units of each encoder LSTM per direction; the decoder has twice as many.
    encoder_layers : int
        Stacked bidirectional LSTM layers in the encoder.
    attention_dim : int
        Size of the attentional state (decoder state and attended context through a tanh
        layer) of the ``"attention"`` variant.
    dropout : float
        Dropout after the embeddings and before the output layer.
    """

    variants: tuple[str, ...] = VARIANTS
    embedding_dim: Positive[int] = 128
    units: Positive[int] = 128
    encoder_layers: Positive[int] = 2
    attention_dim: Positive[int] = 256
    dropout: float = 0.0


@dataclass(frozen=True)
class TranslatorTraining:
    """``[training]`` of a translation experiment: Adam on the teacher-forced model.

    Attributes
    ----------
    epochs : int
        Passes over the training pairs, at most.
    time_limit_minutes : float
        Stop after the first epoch that ends past this many minutes of training; 0: no limit.
    batch_size : int
        Pairs per step.
    learning_rate : float
        Adam's learning rate.
    seed : int
        Seed of the weights and the shuffling.
    """

    epochs: Positive[int] = 10
    time_limit_minutes: float = 0.0
    batch_size: Positive[int] = 64
    learning_rate: Positive[float] = 0.001
    seed: int = 0


@dataclass(frozen=True)
class DecodingSettings:
    """``[decoding]``: beam width, output length and what is scored and shown.

    Attributes
    ----------
    beam_width : int
        Hypotheses kept at each step of the beam search (greedy decoding is scored too).
    max_output_tokens : int
        Longest translation written, in tokens.
    examples : int
        Test sentences logged with their translations.
    max_test_sentences : int
        Score only the first N distinct test sentences; 0 scores them all.
    """

    beam_width: Positive[int] = 4
    max_output_tokens: Positive[int] = 20
    examples: int = 5
    max_test_sentences: int = 0


@dataclass(frozen=True)
class TranslationExperiment:
    """English -> Spanish translators: one per decoder variant, scored greedy and with a beam."""

    name: str
    description: str = ""
    data: PairsSettings = field(default_factory=PairsSettings)
    model: TranslatorSettings = field(default_factory=TranslatorSettings)
    training: TranslatorTraining = field(default_factory=TranslatorTraining)
    decoding: DecodingSettings = field(default_factory=DecodingSettings)


# --- One validator ------------------------------------------------------------------------


def _rule(annotation) -> tuple[type, bool]:
    """The type a TOML value must have for a field annotated ``annotation``, and whether it must
    be positive: ``Positive[int] | None`` gives ``(int, True)``, ``Optional[str]`` gives
    ``(str, False)``, ``tuple[str, ...]`` gives ``(tuple, False)``."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *marks = typing.get_args(annotation)
        return _rule(base)[0], _POSITIVE in marks
    if origin is tuple:
        return tuple, False
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return _rule(args[0]) if args else (annotation, False)


def table_values(cls, table: dict, where: str) -> dict:
    """Check a TOML table against dataclass ``cls``: its keys, their types and signs.

    Unknown keys, values of the wrong type and negative numbers (zero too, for the fields
    annotated ``Positive[...]``) raise a :class:`ConfigError` naming the key. A list or a single
    string becomes a tuple where the field is a tuple. Returns the values to make ``cls`` from;
    fields that hold a nested dataclass are left to the caller.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"[{where}] must be a table")
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(table) - fields
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)} in [{where}]; "
                          f"known: {', '.join(sorted(fields))}")
    values = {}
    for name, value in table.items():
        expected, positive = _rule(hints[name])
        if dataclasses.is_dataclass(expected):
            continue  # a nested table, built by the caller
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if expected is tuple and isinstance(value, str | list):
            value = tuple([value] if isinstance(value, str) else value)
        if type(value) is not expected:
            raise ConfigError(f"{where}.{name} must be {expected.__name__}, got {value!r}")
        if isinstance(value, int | float) and not isinstance(value, bool) and (
                value < 0 or (positive and value == 0)):
            sign = "positive" if positive else "non-negative"
            kind = "integer" if isinstance(value, int) else "number"
            raise ConfigError(f"{where}.{name} must be a {sign} {kind}, got {value!r}")
        values[name] = value
    return values


def _settings(cls, raw: dict, key: str):
    """The settings of table ``key`` of ``raw`` (defaults where it is absent)."""
    return cls(**table_values(cls, raw.get(key, {}), key))


def _check_name(raw: dict, known: set[str], tables: str) -> str:
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {sorted(unknown)}; known: {tables}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or "/" in name or name.startswith("."):
        raise ConfigError("the config needs a name (a plain file-name-like string)")
    return name


def _check_fraction(where: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ConfigError(f"{where} must lie between 0 and 1, got {value}")


def _with_path(settings, base: Path):
    """``settings`` with its ``path`` read from ``base`` when relative."""
    if not settings.path:
        return settings
    return dataclasses.replace(settings, path=str(resolve_path(settings.path, base)))


def parse_config(raw: dict, base: Path = Path(".")) -> Experiment:
    """Validate a grid config's parsed TOML and return the :class:`Experiment` it describes."""
    name = _check_name(raw, {"name", "description", "seeds", "data", "vectors", "training",
                             "models"},
                       "name, description, seeds, [data], [vectors], [training], [[models]]")
    seeds = raw.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds
    ):
        raise ConfigError(f"seeds must be a non-empty list of non-negative integers, got {seeds!r}")

    data = _with_path(_settings(DataSettings, raw, "data"), base)
    _check_fraction("data.val_fraction", data.val_fraction)
    if data.level not in LEVELS:
        raise ConfigError(f"data.level must be one of {', '.join(LEVELS)}, got {data.level!r}")
    if data.level == "word" and data.valid_chars is not None:
        raise ConfigError('data.valid_chars applies only with data.level = "char"')
    if data.valid_chars is not None and (
        not data.valid_chars or any(ord(c) >= 128 for c in data.valid_chars)
    ):
        raise ConfigError(f"data.valid_chars must be a non-empty string of ASCII characters, "
                          f"got {data.valid_chars!r}")
    if data.level == "char" and "vectors" in raw:
        raise ConfigError('[vectors] does not apply to data.level = "char": '
                          "its input is one-hot characters")

    vec_raw = raw.get("vectors", {})
    w2v_raw = vec_raw.get("word2vec", {}) if isinstance(vec_raw, dict) else {}
    w2v = Word2VecSettings(**table_values(Word2VecSettings, w2v_raw, "vectors.word2vec"))
    vectors = _with_path(VectorSettings(
        word2vec=w2v, **table_values(VectorSettings, vec_raw, "vectors")), base)

    training = _settings(TrainingSettings, raw, "training")
    if not 0.0 <= training.dropout < 1.0:
        raise ConfigError(f"training.dropout must lie in [0, 1), got {training.dropout}")
    if training.maxlen > _MAX_MAXLEN:
        raise ConfigError(f"training.maxlen must be at most {_MAX_MAXLEN:,}, "
                          f"got {training.maxlen:,}")
    if training.optimizer.lower() not in OPTIMIZERS:
        raise ConfigError(f"unknown training.optimizer {training.optimizer!r}; choose from "
                          f"{', '.join(OPTIMIZERS)}")
    if training.backend is not None and training.backend not in BACKENDS:
        raise ConfigError(f"unknown training.backend {training.backend!r}; choose from "
                          f"{', '.join(BACKENDS)}")

    return Experiment(name=name, cells=_cells(raw.get("models")), seeds=tuple(seeds),
                      description=str(raw.get("description", "")), data=data, vectors=vectors,
                      training=training)


def _cells(models) -> tuple[tuple[str, int, int], ...]:
    if not isinstance(models, list) or not models:
        raise ConfigError("the config needs at least one [[models]] table with arch and units")
    cells: list[tuple[str, int, int]] = []
    for i, entry in enumerate(models, 1):
        if not isinstance(entry, dict) or not {"arch", "units"} <= set(entry) <= {
            "arch", "units", "depth"
        }:
            raise ConfigError(f"[[models]] entry {i} must have the keys arch and units "
                              "(and optionally depth)")
        archs, units, depths = (v if isinstance(v, list) else [v] for v in (
            entry["arch"], entry["units"], entry.get("depth", 1)))
        for arch in archs:
            if arch not in ARCHITECTURES:
                raise ConfigError(f"unknown architecture {arch!r} in [[models]] entry {i}; "
                                  f"choose from {', '.join(ARCHITECTURES)}")
        for n in units + depths:
            if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
                raise ConfigError(f"units and depth must be positive integers, got {n!r} "
                                  f"in [[models]] entry {i}")
        for arch in archs:
            for depth in depths:
                for n in units:
                    if (arch, n, depth) not in cells:
                        cells.append((arch, n, depth))
    return tuple(cells)


def parse_translation_config(raw: dict, base: Path = Path(".")) -> TranslationExperiment:
    """Validate a translation config's parsed TOML and return its experiment."""
    name = _check_name(raw, {"name", "description", "data", "model", "training", "decoding"},
                       "name, description, [data], [model], [training], [decoding]")
    data = _with_path(_settings(PairsSettings, raw, "data"), base)
    model = _settings(TranslatorSettings, raw, "model")
    _check_fraction("data.val_fraction", data.val_fraction)
    _check_fraction("data.test_fraction", data.test_fraction)
    if data.val_fraction + data.test_fraction >= 1:
        raise ConfigError("data.val_fraction and data.test_fraction must sum to less than 1")
    if not model.variants or set(model.variants) - set(VARIANTS):
        raise ConfigError(f"model.variants must name some of {', '.join(VARIANTS)}, "
                          f"got {list(model.variants)}")
    if not 0 <= model.dropout < 1:
        raise ConfigError(f"model.dropout must lie in [0, 1), got {model.dropout}")
    if data.vocabulary not in VOCABULARIES:
        raise ConfigError(f"data.vocabulary must be one of {', '.join(VOCABULARIES)}, "
                          f"got {data.vocabulary!r}")
    if data.vocabulary == "sentencepiece" and data.vocab_size < 8:
        raise ConfigError(f"data.vocab_size must be at least 8 (4 special tokens and some "
                          f"pieces), got {data.vocab_size}")
    return TranslationExperiment(
        name=name, description=str(raw.get("description", "")), data=data, model=model,
        training=_settings(TranslatorTraining, raw, "training"),
        decoding=_settings(DecodingSettings, raw, "decoding"))


# --- Files --------------------------------------------------------------------------------


def resolve_path(path: str, base: Path) -> Path:
    """Expand ``~`` and ``$VARS`` in a config's path; a relative one is read from ``base``."""
    path = Path(os.path.expandvars(path)).expanduser()
    return path if path.is_absolute() else base / path


def read_toml(path: str | os.PathLike) -> dict:
    """Parse a TOML config file, turning a missing or malformed file into a ConfigError."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as exc:
        raise ConfigError(f"no config file at {path}") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{path} is a folder, not a config file") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc


def load_config(path: str | os.PathLike) -> Experiment:
    """Read and validate a grid config file."""
    return parse_config(read_toml(path), base=Path(path).parent)


def load_translation_config(path: str | os.PathLike) -> TranslationExperiment:
    """Read and validate a translation config file."""
    return parse_translation_config(read_toml(path), base=Path(path).parent)
