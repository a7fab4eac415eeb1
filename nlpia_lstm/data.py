"""Data sets: find a local copy or download it (checked, cached), then read it.

Two data sets: the Large Movie Review Dataset (IMDB, for the sentiment grid) and the Tatoeba
English-Spanish pairs (for translation). NLTK's Gutenberg corpus, for text generation, is
found through NLTK itself (:func:`nlpia_lstm.generation.load_gutenberg`).

A data file is looked for, in order, at an explicit path, in the folder named by the
``NLPIA_LSTM_DATA`` environment variable, and in the cache folder (``NLPIA_LSTM_CACHE``, else
``$XDG_CACHE_HOME/nlpia_lstm``, else ``~/.cache/nlpia_lstm``). Only when none has it is the
official file downloaded, with a progress bar, and its SHA-256 checked before it is kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import DataError

log = logging.getLogger(__name__)

DATA_ENV = "NLPIA_LSTM_DATA"
CACHE_ENV = "NLPIA_LSTM_CACHE"


@dataclass(frozen=True)
class Source:
    """A downloadable data file: where it comes from and how to check it."""

    filename: str
    url: str
    sha256: str | None


IMDB = Source(
    filename="aclImdb_v1.tar.gz",
    url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
)

# The official file publishes no checksum, and the copy used in development is an Anki export
# that may differ from it byte for byte, so a download is checked by reading it instead.
SPA_ENG = Source(
    filename="spa-eng.zip",
    url="https://storage.googleapis.com/download.tensorflow.org/data/spa-eng.zip",
    sha256=None,
)
SPA_MEMBER = "spa-eng/spa.txt"

IMDB_SPLITS = ("train", "test", "unsup")
_LABELS = {"pos": 1, "neg": 0}


def cache_dir() -> Path:
    """Return the folder where downloads and derived data (tokens, vectors) are cached."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "nlpia_lstm"


def cache_lock(path: str | os.PathLike):
    """A file lock for one cache entry (``<path>.lock``): one process builds it, others wait.

    Hold it around "is the entry there? if not, build it" so that two runs on a cold cache do
    the work once and never read each other's half-written files.
    """
    from filelock import FileLock

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path.with_name(path.name + ".lock"))


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path``; once the block ends, rename it to ``path``.

    The temporary name is unique to this call, so concurrent writers never share one, and the
    rename is atomic: readers see the old file or the whole new one, never a part. If the
    block raises, the temporary file is removed. ``suffix`` ends the temporary name (NumPy's
    ``savez`` wants ``.npz``).
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".part{suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def set_aside(path: str | os.PathLike, problem: str) -> Path:
    """Move a corrupt cache file out of the way (``<name>.corrupt``) with a warning; return it.

    The caller then rebuilds the entry; the moved file is kept for a look and may be deleted.
    """
    path = Path(path)
    corrupt = path.with_name(path.name + ".corrupt")
    os.replace(path, corrupt)
    log.warning("%s is corrupt (%s): moved to %s, rebuilding it", path, problem, corrupt.name)
    return corrupt


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
    may differ from the official checksum. A download goes through pooch, which shows a
    progress bar, retries a broken connection and checks ``source.sha256`` before the file
    takes its place in the cache, so a broken download never poses as a good file.
    """
    import pooch

    local = find_local(source)
    if local is not None:
        return local
    known_hash = f"sha256:{source.sha256}" if source.sha256 else None
    fetcher = pooch.create(path=cache_dir(), base_url="", registry={source.filename: known_hash},
                           urls={source.filename: source.url}, retry_if_failed=2)
    log.info("downloading %s into %s", source.url, cache_dir())
    try:
        return Path(fetcher.fetch(source.filename, progressbar=progress))
    except ValueError as exc:  # pooch's word for a checksum mismatch
        raise DataError(f"checksum mismatch for {source.url}: the download is corrupt, "
                        "try again") from exc
    except OSError as exc:  # requests' errors are OSErrors too
        raise DataError(
            f"could not download {source.url} ({exc}); download it by hand and set "
            f"{DATA_ENV} to the folder that holds {source.filename}"
        ) from exc


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


_REFETCH = "download it again or give the extracted aclImdb/ folder"


def _check_member(archive: Path, member: tarfile.TarInfo) -> None:
    """Refuse a member that would land outside the archive's folder, or is not a plain file
    or folder: the official archive has none, so the file is not (only) IMDB."""
    if not (member.isfile() or member.isdir()):
        problem = "a link or special file"
    elif member.name.startswith(("/", "\\")) or ".." in PurePosixPath(member.name).parts:
        problem = "a path outside the archive's folder"
    else:
        return
    raise DataError(f"{archive}: unsafe archive member {member.name!r} ({problem}): not the "
                    f"IMDB archive; {_REFETCH}")


def _read_archive(archive: Path, splits: tuple[str, ...]) -> list[tuple[str, str, int, str]]:
    files = []
    name = ""
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                _check_member(archive, member)
                name = member.name.split("/", 1)[-1] if member.name.startswith("aclImdb/") else ""
                kind = _classify(name) if member.isfile() else None
                if kind and kind[0] in splits:
                    text = tar.extractfile(member).read().decode("utf-8")
                    files.append((kind[0], name, kind[1], text))
    except tarfile.ReadError as exc:
        first = str(exc).splitlines()[0].rstrip(":") if str(exc) else "unreadable"
        raise DataError(f"{archive}: not a tar archive (gzip, bzip2 or xz) or cut short "
                        f"({first}); {_REFETCH}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{archive}: review {name} is not UTF-8 text ({exc.reason} at byte "
                        f"{exc.start}); {_REFETCH}") from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{archive}: corrupt or unreadable IMDB archive ({exc}); "
                        f"{_REFETCH}") from exc
    return files


def _read_folder(folder: Path, splits: tuple[str, ...]) -> list[tuple[str, str, int, str]]:
    files = []
    for split_dir, sub in (("train", "pos"), ("train", "neg"), ("test", "pos"),
                           ("test", "neg"), ("train", "unsup")):
        for file in sorted((folder / split_dir / sub).glob("*.txt")):
            name = f"{split_dir}/{sub}/{file.name}"
            kind = _classify(name)
            if kind and kind[0] in splits:
                try:
                    text = file.read_text(encoding="utf-8")
                except UnicodeDecodeError as exc:
                    raise DataError(f"{file}: not UTF-8 text ({exc.reason} at byte "
                                    f"{exc.start}); IMDB reviews are UTF-8: re-save or "
                                    "remove that file") from exc
                except OSError as exc:
                    raise DataError(f"{file}: unreadable review ({exc.strerror or exc})") from exc
                files.append((kind[0], name, kind[1], text))
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
    """Read ``(english, spanish)`` raw text pairs, in file order, from the zip or a ``.txt``.

    Each line is ``English<TAB>Spanish``; a third column (the attribution) is ignored.
    """
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
