"""Data sets: find a local copy or download it (checked, cached), then read it.

A data file is looked for, in order, at an explicit path, in the folder named by the
``NLPIA_LSTM_DATA`` environment variable, and in the cache folder (``NLPIA_LSTM_CACHE``, else
``$XDG_CACHE_HOME/nlpia_lstm``, else ``~/.cache/nlpia_lstm``). Only when none has it is the
official file downloaded, with a progress bar, and its SHA-256 checked before it is kept.
"""

from __future__ import annotations

import hashlib
import os
import random
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError

DATA_ENV = "NLPIA_LSTM_DATA"
CACHE_ENV = "NLPIA_LSTM_CACHE"


@dataclass(frozen=True)
class Source:
    """A downloadable data file: where it comes from and how to check it."""

    filename: str
    url: str
    sha256: str | None
    size: int | None = None


IMDB = Source(
    filename="aclImdb_v1.tar.gz",
    url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
    size=84_125_825,
)

IMDB_SPLITS = ("train", "test", "unsup")
_LABELS = {"pos": 1, "neg": 0}


def cache_dir() -> Path:
    """Return the folder where downloads and derived data (tokens, vectors) are cached."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "nlpia_lstm"


def sha256sum(path: str | os.PathLike) -> str:
    """Return the hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_local(source: Source) -> Path | None:
    """Return a local copy of ``source`` from ``$NLPIA_LSTM_DATA`` or the cache, if there is one."""
    folders = [Path(os.environ[DATA_ENV]).expanduser()] if os.environ.get(DATA_ENV) else []
    folders.append(cache_dir())
    for folder in folders:
        if (folder / source.filename).is_file():
            return folder / source.filename
    return None


def fetch(source: Source, *, progress: bool = True) -> Path:
    """Return a local path to ``source``, downloading and checking it if no copy is found.

    Local copies (``$NLPIA_LSTM_DATA`` or the cache) are used as they are: a re-packed copy
    may differ from the official checksum. A download is checked against ``source.sha256``
    and only then moved into the cache, so a broken download never poses as a good file.
    """
    local = find_local(source)
    if local is not None:
        return local
    target = cache_dir() / source.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        _download(source.url, partial, source.size, progress)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise DataError(
            f"could not download {source.url} ({exc}); download it by hand and set "
            f"{DATA_ENV} to the folder that holds {source.filename}"
        ) from exc
    if source.sha256 and sha256sum(partial) != source.sha256:
        partial.unlink(missing_ok=True)
        raise DataError(f"checksum mismatch for {source.url}: the download is corrupt, try again")
    partial.replace(target)
    return target


def _download(url: str, target: Path, size: int | None, progress: bool) -> None:
    from tqdm.auto import tqdm

    with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as out:
        total = int(response.headers.get("Content-Length") or size or 0) or None
        bar = tqdm(total=total, unit="B", unit_scale=True, desc=target.name, disable=not progress)
        with bar:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                bar.update(len(block))


def safe_extract(archive: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Extract a tar archive into ``target``, refusing members that would land outside it."""
    target = Path(target).resolve()
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                dest = (target / member.name).resolve()
                if not dest.is_relative_to(target) or member.issym() or member.islnk():
                    raise DataError(f"{archive}: unsafe member {member.name!r}, not extracted")
            tar.extractall(target, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{archive}: not a readable tar archive ({exc})") from exc
    return target


def imdb_path(path: str | os.PathLike | None = None, *, progress: bool = True) -> Path:
    """Return the IMDB data: ``path`` if given, else a local copy, else a fresh download.

    ``path`` may be the ``aclImdb_v1.tar.gz`` archive, an extracted ``aclImdb`` folder, or a
    folder that holds either.
    """
    if path is None:
        return fetch(IMDB, progress=progress)
    path = Path(path).expanduser()
    for candidate in (path, path / "aclImdb", path / IMDB.filename):
        if candidate.is_file() or (candidate / "train").is_dir():
            return candidate
    raise DataError(f"no IMDB data at {path}: expected {IMDB.filename} or an aclImdb/ folder")


def read_imdb(
    path: str | os.PathLike | None = None,
    splits: tuple[str, ...] = ("train",),
    *,
    progress: bool = True,
) -> dict[str, list[tuple[int, str]]]:
    """Read the Large Movie Review Dataset from its archive or an extracted folder.

    Parameters
    ----------
    path : path-like, optional
        Archive, ``aclImdb/`` folder, or a folder holding either; ``None`` looks locally and
        downloads when needed (see :func:`imdb_path`).
    splits : tuple of str
        Any of ``"train"``, ``"test"`` (labelled, 25,000 each) and ``"unsup"`` (50,000
        unlabelled reviews, label ``-1``).

    Returns
    -------
    dict
        Per split, a list of ``(label, text)`` with ``pos`` = 1 and ``neg`` = 0, in file-name
        order (the same for the archive and the folder), not shuffled.
    """
    unknown = set(splits) - set(IMDB_SPLITS)
    if unknown:
        raise DataError(f"unknown IMDB split(s) {sorted(unknown)}; choose from {IMDB_SPLITS}")
    source = imdb_path(path, progress=progress)
    files = _read_archive(source, splits) if source.is_file() else _read_folder(source, splits)
    result: dict[str, list[tuple[int, str]]] = {}
    for split in splits:
        items = sorted((name, label, text) for (s, name, label, text) in files if s == split)
        if not items:
            raise DataError(f"{source}: no reviews found for the {split!r} split")
        result[split] = [(label, text) for _, label, text in items]
    return result


def _classify(relative: str) -> tuple[str, int] | None:
    """Map ``train/pos/1_7.txt`` to ``("train", 1)``; ``None`` for files that are not reviews."""
    parts = relative.split("/")
    if len(parts) != 3 or not parts[2].endswith(".txt"):
        return None
    split, folder, _ = parts
    if split in ("train", "test") and folder in _LABELS:
        return split, _LABELS[folder]
    if split == "train" and folder == "unsup":
        return "unsup", -1
    return None


def _read_archive(archive: Path, splits: tuple[str, ...]) -> list[tuple[str, str, int, str]]:
    files = []
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = member.name.split("/", 1)[-1] if member.name.startswith("aclImdb/") else ""
                kind = _classify(name) if member.isfile() else None
                if kind and kind[0] in splits:
                    text = tar.extractfile(member).read().decode("utf-8")
                    files.append((kind[0], name, kind[1], text))
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{archive}: corrupt or unreadable IMDB archive ({exc})") from exc
    return files


def _read_folder(folder: Path, splits: tuple[str, ...]) -> list[tuple[str, str, int, str]]:
    files = []
    for split_dir, sub in (("train", "pos"), ("train", "neg"), ("test", "pos"),
                           ("test", "neg"), ("train", "unsup")):
        for file in (folder / split_dir / sub).glob("*.txt"):
            name = f"{split_dir}/{sub}/{file.name}"
            kind = _classify(name)
            if kind and kind[0] in splits:
                files.append((kind[0], name, kind[1], file.read_text(encoding="utf-8")))
    return files


def shuffle_split(
    dataset: list, val_fraction: float = 0.2, seed: int = 0, limit: int | None = None
) -> tuple[list, list]:
    """Shuffle with ``seed``, keep the first ``limit`` items if given, then split as the chapter
    does: the first ``1 - val_fraction`` for training, the rest for validation."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    order = list(dataset)
    random.Random(seed).shuffle(order)
    order = order[:limit] if limit else order
    cut = int(len(order) * (1.0 - val_fraction))
    return order[:cut], order[cut:]


def file_identity(path: str | os.PathLike) -> dict:
    """What caches are keyed by: a data file's SHA-256, or a folder's path and modification time.

    A file is known by its content, so a copy of the same archive anywhere, on any machine, gives
    the same cache keys (and the same vectors key in result rows). Hashing an extracted IMDB
    folder of 100,000 files would cost more than it saves, so a folder is known by where it is.
    """
    path = Path(path).resolve()
    if path.is_file():
        return {"sha256": sha256sum(path)}
    stat = path.stat()
    return {"path": str(path), "mtime": stat.st_mtime_ns}
