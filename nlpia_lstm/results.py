"""The append-only results CSV: one row per finished run, written at once, never rewritten.

A :class:`ResultsFile` knows its columns and which of them make a row's key (the same key is
the same run, made the same way): a rerun reads the keys already there and skips those runs.
The grid and the translator both keep their results this way; :data:`COLUMNS` and
:data:`KEY_COLUMNS` are the grid's. Every row also records the versions that made it
(:func:`versions`).

Several processes may share one CSV (two terminals, two cluster jobs): a file lock
(``filelock``) around "read the keys, then append" means a row is never written twice and two
rows never interleave, and :meth:`ResultsFile.claim` lets one process at a time run a given
key. A last line cut short (power loss, a full disk) is moved to ``<name>.csv.torn`` with a
warning before anything else is read or written, so the rest of the file stays usable. A CSV
written by an earlier version of this package, whose columns are all among today's and hold
every key column, is rewritten once with the new columns (empty in its rows), with a warning.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import platform
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from filelock import FileLock, Timeout

from . import __version__
from .errors import ConfigError
from .saving import check_writable

__all__ = ["COLUMNS", "HISTORY_COLUMNS", "HISTORY_KEY_COLUMNS", "KEY_COLUMNS", "RETIRED_COLUMNS",
           "ResultsFile", "versions"]

log = logging.getLogger(__name__)

COLUMNS = [
    "experiment", "arch", "units", "seed", "acc", "val_acc", "loss", "val_loss", "test_acc",
    "test_loss", "test_auc", "test_f1", "test_precision", "test_recall", "test_tp", "test_fp",
    "test_tn", "test_fn", "params", "train_seconds", "epochs", "batch_size", "maxlen", "dropout",
    "optimizer", "depth", "vectors", "data", "split_seed", "n_train", "n_val", "n_test",
    "finished_at", "nlpia_lstm_version", "keras_version", "backend", "backend_version",
    "tensorflow_version", "python_version", "platform",
]
# Columns that an earlier version wrote and nothing ever filled: an upgrade drops them, and
# refuses a CSV where one of them holds a value rather than lose it.
RETIRED_COLUMNS = ["rnn_kernel"]
# A row with the same values in these columns is the same cell run the same way.
KEY_COLUMNS = [
    "arch", "units", "seed", "epochs", "batch_size", "maxlen", "dropout", "optimizer", "depth",
    "vectors", "data", "split_seed", "n_train", "n_val", "n_test", "backend",
]
# The per-epoch learning curves of the grid's cells, ``<experiment>.history.csv``: one row per
# cell and epoch.
HISTORY_KEY_COLUMNS = [*KEY_COLUMNS, "epoch"]
HISTORY_COLUMNS = [*HISTORY_KEY_COLUMNS, "acc", "val_acc", "loss", "val_loss", "seconds"]


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
        Every column, in order. An existing CSV whose columns are an earlier version's (all of
        them among ``columns`` or empty retired ones, the key columns included) is upgraded to
        these; one with any other header is refused, never rewritten.
    key_columns : list of str
        The columns whose values name a run.
    """

    def __init__(self, path: str | os.PathLike, columns: list[str] = COLUMNS,
                 key_columns: list[str] = KEY_COLUMNS) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self.key_columns = list(key_columns)
        self._lock = FileLock(self.path.with_name(self.path.name + ".lock"))

    def key(self, row: dict) -> tuple[str, ...]:
        """The key of a row about to be written, as :meth:`finished_keys` reads it back."""
        return tuple(_text(row.get(c)) for c in self.key_columns)

    def check_writable(self) -> None:
        """Make the CSV's folder and check that files can be written there, before any work."""
        check_writable(self.path.parent, "--results-dir", folder=True)

    def finished_keys(self) -> set[tuple[str, ...]]:
        """The keys of the rows already in the CSV; empty when there is none yet."""
        if not self.path.is_file():
            return set()
        with self._lock:
            return self._keys()

    def append(self, row: dict) -> bool:
        """Append one row (the header first if the CSV is new), flushed to disk at once.

        Returns ``False``, writing nothing, when a row with the same key is already there
        (another process finished the same run first).
        """
        return self.extend([row]) == 1

    def extend(self, rows: list[dict]) -> int:
        """Append the rows whose keys are not there yet, in one write; return how many."""
        with self._lock:
            done = self._keys()
            new_rows = []
            for row in rows:
                if self.key(row) not in done:
                    done.add(self.key(row))
                    new_rows.append(row)
            if not new_rows:
                return 0
            new = not self.path.is_file() or self.path.stat().st_size == 0
            with open(self.path, "a", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=self.columns)
                if new:
                    writer.writeheader()
                writer.writerows({k: _text(row.get(k)) for k in self.columns} for row in new_rows)
                f.flush()
                os.fsync(f.fileno())
        return len(new_rows)

    def claim(self, row: dict, *, wait: bool = False) -> FileLock | None:
        """Claim the run of ``row`` for this process: a held lock, or ``None`` if another has it.

        With ``wait``, wait until the other process lets go instead. Release the lock
        (``lock.release()``) once the run's row is written; the lock goes with the process, so
        a run that is killed frees its claims.
        """
        digest = hashlib.sha256("\x1f".join(self.key(row)).encode()).hexdigest()[:20]
        folder = self.path.with_name(f".{self.path.name}.claims")
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(folder / f"{digest}.lock")
        try:
            lock.acquire(timeout=-1 if wait else 0)
        except Timeout:
            return None
        return lock

    def _keys(self) -> set[tuple[str, ...]]:
        """Read the keys, after moving a torn last line aside. Call with the lock held.

        A file that is not this CSV (not text, another header) is refused before anything in it
        is moved or changed.
        """
        if not self.path.is_file():
            return set()
        data = self.path.read_bytes()
        header = ",".join(self.columns)
        try:
            first = data.decode("utf-8").partition("\n")[0].rstrip("\r")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{self.path} is not a results CSV ({exc}); move it aside or "
                              "choose another --results-dir") from exc
        torn_header = b"\n" not in data and header.startswith(first)
        old = next(csv.reader([first]), [])
        upgrade = bool(data) and not torn_header and first != header and (
            set(old) - set(RETIRED_COLUMNS) <= set(self.columns)
            and set(self.key_columns) <= set(old))
        if data and not torn_header and first != header and not upgrade:
            raise ConfigError(f"{self.path} has other columns than this version writes; "
                              "move it aside or choose another --results-dir")
        self._repair()
        if upgrade:
            self._upgrade(old)
        with open(self.path, newline="", encoding="utf-8") as f:
            return {tuple(row[c] or "" for c in self.key_columns) for row in csv.DictReader(f)}

    def _upgrade(self, old: list[str]) -> None:
        """Rewrite a CSV of an earlier version's ``old`` columns with these columns, atomically.

        The old rows keep their values, the new columns are empty in them and the retired
        columns are dropped; the new file is written beside the old one, flushed to disk and
        then put in its place, so a crash leaves one or the other whole. Call with the lock held.
        """
        with open(self.path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        dropped = [c for c in old if c not in self.columns]
        for column in dropped:
            if any(row.get(column) for row in rows):
                raise ConfigError(f"{self.path} has values in the retired column {column!r}, "
                                  "which this version does not write; move it aside or choose "
                                  "another --results-dir")
        fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                    dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=self.columns)
                writer.writeheader()
                writer.writerows({k: row.get(k) or "" for k in self.columns} for row in rows)
                f.flush()
                os.fsync(f.fileno())
            shutil.copymode(self.path, temp)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
            folder = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        added = [c for c in self.columns if c not in old]
        changes = [f"added the column(s) {', '.join(added)}, empty in them"] if added else []
        changes += [f"dropped the empty column(s) {', '.join(dropped)}"] if dropped else []
        log.warning("%s was written by an earlier version: rewrote its %d row(s) and %s",
                    self.path, len(rows), " and ".join(changes))

    def _repair(self) -> None:
        """Move a last line without its end-of-line to ``<name>.torn`` and cut it off."""
        with open(self.path, "rb+") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            f.seek(0)
            data = f.read()
            cut = data.rfind(b"\n") + 1
            torn = data[cut:]
            torn_path = self.path.with_name(self.path.name + ".torn")
            with open(torn_path, "ab") as out:
                out.write(torn + b"\n")
            f.truncate(cut)
            f.flush()
            os.fsync(f.fileno())
        log.warning("%s ended in a cut-off line (%d bytes), moved to %s; the rows before it "
                    "are kept", self.path, len(torn), torn_path)


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
