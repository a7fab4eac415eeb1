"""Experiment configs: a TOML file naming the data, vectors, training settings and the grid.

A config reads like this (every key but ``name`` and ``[[models]]`` has the chapter's default)::

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

Relative paths in a config are read from the config file's folder.

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
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from .errors import ConfigError

ARCHITECTURES = ("simple_rnn", "birnn", "lstm", "bilstm", "gru")
LEVELS = ("word", "char")


@dataclass(frozen=True)
class DataSettings:
    path: str | None = None
    level: str = "word"
    valid_chars: str | None = None
    val_fraction: float = 0.2
    split_seed: int = 0
    max_reviews: int | None = None
    score_test: bool = False
    max_test: int | None = None


@dataclass(frozen=True)
class Word2VecSettings:
    vector_size: int = 300
    window: int = 5
    min_count: int = 5
    epochs: int = 5
    sg: int = 0
    seed: int = 0
    workers: int = 1
    use_unsup: bool = True


@dataclass(frozen=True)
class VectorSettings:
    path: str | None = None
    limit: int | None = 200_000
    binary: bool | None = None
    word2vec: Word2VecSettings = field(default_factory=Word2VecSettings)


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int = 2
    batch_size: int = 32
    maxlen: int = 400
    dropout: float = 0.2
    optimizer: str = "rmsprop"


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


# Fields that default to None: the type a value must have when it is given.
_OPTIONAL_TYPES = {"str | None": str, "int | None": int, "bool | None": bool}


def table_values(cls, table: dict, where: str, positive: frozenset[str] = frozenset()) -> dict:
    """Check a TOML table against dataclass ``cls``: its keys, their types and signs.

    Unknown keys, values of the wrong type and negative numbers (zero too, for the keys in
    ``positive``) raise a ConfigError naming the key. A list or a single string becomes a tuple
    where the field is a tuple. Returns the values to make ``cls`` from; fields that hold a
    nested dataclass are left to the caller.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"[{where}] must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(table) - set(fields)
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)} in [{where}]; "
                          f"known: {', '.join(sorted(fields))}")
    values = {}
    for name, value in table.items():
        default = fields[name].default
        if default is dataclasses.MISSING:
            continue  # a nested table, built by the caller
        expected = _OPTIONAL_TYPES.get(fields[name].type, type(default))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if expected is tuple and isinstance(value, str | list):
            value = tuple([value] if isinstance(value, str) else value)
        if type(value) is not expected:
            raise ConfigError(f"{where}.{name} must be {expected.__name__}, got {value!r}")
        if isinstance(value, int | float) and not isinstance(value, bool) and (
                value < 0 or (name in positive and value == 0)):
            rule = "positive" if name in positive else "non-negative"
            raise ConfigError(f"{where}.{name} must be {rule}, got {value!r}")
        values[name] = value
    return values


def _positive(where: str, **values) -> None:
    for name, value in values.items():
        if value is not None and (not isinstance(value, int) or value <= 0):
            raise ConfigError(f"{where}.{name} must be a positive integer, got {value!r}")


def parse_config(raw: dict, base: Path = Path(".")) -> Experiment:
    """Validate a config's parsed TOML and return the :class:`Experiment` it describes."""
    top = {k: v for k, v in raw.items() if k not in ("data", "vectors", "training", "models")}
    known_top = {"name", "description", "seeds"}
    if set(top) - known_top:
        raise ConfigError(f"unknown top-level key(s) {sorted(set(top) - known_top)}; known: "
                          "name, description, seeds, [data], [vectors], [training], [[models]]")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or "/" in name or name.startswith("."):
        raise ConfigError("the config needs a name (a plain file-name-like string)")
    seeds = raw.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds
    ):
        raise ConfigError(f"seeds must be a non-empty list of non-negative integers, got {seeds!r}")

    data = DataSettings(**table_values(DataSettings, raw.get("data", {}), "data"))
    _positive("data", max_reviews=data.max_reviews, max_test=data.max_test)
    if not 0.0 < data.val_fraction < 1.0:
        raise ConfigError(f"data.val_fraction must lie between 0 and 1, got {data.val_fraction}")
    if data.path:
        data = dataclasses.replace(data, path=str(resolve_path(data.path, base)))
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
    _positive("vectors.word2vec", vector_size=w2v.vector_size, window=w2v.window,
              min_count=w2v.min_count, epochs=w2v.epochs, workers=w2v.workers)
    vectors = VectorSettings(word2vec=w2v, **table_values(VectorSettings, vec_raw, "vectors"))
    _positive("vectors", limit=vectors.limit)
    if vectors.path:
        vectors = dataclasses.replace(vectors, path=str(resolve_path(vectors.path, base)))

    training = TrainingSettings(**table_values(TrainingSettings, raw.get("training", {}),
                                               "training"))
    _positive("training", epochs=training.epochs, batch_size=training.batch_size,
              maxlen=training.maxlen)
    if not 0.0 <= training.dropout < 1.0:
        raise ConfigError(f"training.dropout must lie in [0, 1), got {training.dropout}")

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
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc


def load_config(path: str | os.PathLike) -> Experiment:
    """Read and validate an experiment config file."""
    return parse_config(read_toml(path), base=Path(path).parent)
