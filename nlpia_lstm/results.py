"""The append-only results CSV: one row per finished run, written at once, never rewritten.

A :class:`ResultsFile` knows its columns and which of them make a row's key (the same key is
the same run, made the same way): a rerun reads the keys already there and skips those runs.
The grid and the translator both keep their results this way; :data:`COLUMNS` and
:data:`KEY_COLUMNS` are the grid's. Every row also records the versions that made it
(:func:`versions`).
"""

from __future__ import annotations

import csv
import os
import platform
from importlib import metadata
from pathlib import Path

from . import __version__
from .errors import ConfigError

__all__ = ["COLUMNS", "KEY_COLUMNS", "ResultsFile", "versions"]

COLUMNS = [
    "experiment", "arch", "units", "seed", "acc", "val_acc", "loss", "val_loss", "test_acc",
    "test_loss", "params", "train_seconds", "epochs", "batch_size", "maxlen", "dropout",
    "optimizer", "depth", "vectors", "data", "split_seed", "n_train", "n_val", "n_test",
    "finished_at", "nlpia_lstm_version", "keras_version", "backend", "backend_version",
    "tensorflow_version", "python_version", "platform",
]
# A row with the same values in these columns is the same cell run the same way.
KEY_COLUMNS = [
    "arch", "units", "seed", "epochs", "batch_size", "maxlen", "dropout", "optimizer", "depth",
    "vectors", "data", "split_seed", "n_train", "n_val", "n_test",
]


def _text(value) -> str:
    """A value as the CSV holds it: empty for None, else its text."""
    return "" if value is None else str(value)


class ResultsFile:
    """A results CSV with fixed ``columns``, whose rows are told apart by ``key_columns``.

    Parameters
    ----------
    path : path-like
        The CSV. It need not exist yet; its folder is made on the first append.
    columns : list of str
        Every column, in order. An existing CSV with another header is refused, never rewritten.
    key_columns : list of str
        The columns whose values name a run.
    """

    def __init__(self, path: str | os.PathLike, columns: list[str] = COLUMNS,
                 key_columns: list[str] = KEY_COLUMNS) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self.key_columns = list(key_columns)

    def key(self, row: dict) -> tuple[str, ...]:
        """The key of a row about to be written, as :meth:`finished_keys` reads it back."""
        return tuple(_text(row.get(c)) for c in self.key_columns)

    def finished_keys(self) -> set[tuple[str, ...]]:
        """The keys of the rows already in the CSV; empty when there is none yet."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return set()
        with open(self.path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            self._check_header(reader.fieldnames)
            return {tuple(row[c] for c in self.key_columns) for row in reader}

    def append(self, row: dict) -> None:
        """Append one row (the header first if the CSV is new), flushed to disk at once."""
        new = not self.path.is_file() or self.path.stat().st_size == 0
        if not new:
            with open(self.path, newline="", encoding="utf-8") as f:
                self._check_header(next(csv.reader(f), None))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns)
            if new:
                writer.writeheader()
            writer.writerow({k: _text(row.get(k)) for k in self.columns})
            f.flush()
            os.fsync(f.fileno())

    def _check_header(self, header: list[str] | None) -> None:
        if header != self.columns:
            raise ConfigError(f"{self.path} has other columns than this version writes; "
                              "move it aside or choose another --results-dir")


def versions() -> dict:
    """The versions a result row records: this package, Keras, its backend, TF, Python."""
    import keras

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return ""

    backend = keras.backend.backend()
    return {
        "nlpia_lstm_version": __version__,
        "keras_version": keras.__version__,
        "backend": backend,
        "backend_version": version(backend),
        "tensorflow_version": version("tensorflow"),
        "python_version": platform.python_version(),
        "platform": f"{platform.system()}-{platform.machine()}",
    }
