"""One model-file format for every model the package saves: ``NAME.keras`` + ``NAME.json``.

The ``.keras`` file is Keras's own; the JSON sidecar beside it says what kind of model it is
(``"format": "nlpia_lstm.<kind>/1"``) and holds what the model needs to read text (its word
list, characters or vocabularies). Three kinds are saved:

- ``classifier``: a grid model (``grid --save-models``), with ``level`` and ``words``;
- ``generator``: the character language model (``train-generator``), with ``chars``,
  ``maxlen`` and ``lower``;
- ``translator``: an encoder-decoder (``train-translator``), with its vocabularies.

:func:`read_sidecar` checks both files without importing Keras, so a wrong path fails fast.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

from .errors import ConfigError, DataError

__all__ = ["KINDS", "save_model", "read_sidecar", "load_model", "sidecar_path",
           "check_writable"]

# Each kind and how a user makes one, for the message when a model file is missing.
KINDS = {
    "classifier": "save grid models with 'nlpia-lstm grid CONFIG --save-models DIR'",
    "generator": "train one with 'nlpia-lstm train-generator --out MODEL.keras'",
    "translator": "train one with 'nlpia-lstm train-translator experiments/translate_spa.toml'",
}


def _format(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(KINDS)}")
    return f"nlpia_lstm.{kind}/1"


def check_writable(path: str | os.PathLike, option: str, *, folder: bool = False) -> Path:
    """Check, before any long work, that an output can be written; return its folder.

    Makes the folder (``path`` itself with ``folder=True``, else the folder ``path`` goes in)
    and writes and removes a temporary file there.

    Parameters
    ----------
    path : path-like
        The output file, or with ``folder=True`` the output folder.
    option : str
        How the user named it (``"--out"``, ``"--models-dir"``), for the message.

    Raises
    ------
    ConfigError
        The folder cannot be made or written to, or the output file is a folder.
    """
    path = Path(path)
    where = path if folder else path.parent
    if not folder and path.is_dir():
        raise ConfigError(f"{option} {path} is a folder: give a file name")
    blocking = next((p for p in (where, *where.parents) if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise ConfigError(f"cannot write {option} to {where}: {blocking} is a file, not a "
                          f"folder; choose another {option}")
    try:
        where.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write {option} to {where} ({exc.strerror or exc}); choose "
                          f"another {option}") from exc
    return where


def sidecar_path(path: str | os.PathLike) -> Path:
    """The JSON beside a model file: ``NAME.json`` for ``NAME.keras``."""
    return Path(path).with_suffix(".json")


def save_model(model, path: str | os.PathLike, kind: str, **meta) -> Path:
    """Save ``model`` as ``path`` (``.keras``) and ``meta`` beside it as JSON; return ``path``.

    Parameters
    ----------
    model : keras.Model
        The trained model.
    path : path-like
        Where to write it; must end in ``.keras``. Its folder is made if needed.
    kind : {"classifier", "generator", "translator"}
        What the model is; :func:`load_model` checks it.
    **meta
        JSON-serializable values saved in the sidecar.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ConfigError(f"a model file name must end in .keras, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    sidecar_path(path).write_text(
        json.dumps({"format": _format(kind), **meta}, ensure_ascii=False) + "\n",
        encoding="utf-8")
    return path


def read_sidecar(path: str | os.PathLike, kind: str) -> dict:
    """Check that a saved model and its sidecar exist and match ``kind``; return the sidecar.

    Checks without Keras what can be checked: the model file is there and is a zip archive
    (as every ``.keras`` file is), and its sidecar is JSON of the right format.

    Raises
    ------
    DataError
        Either file is missing, a folder, unreadable or not what :func:`save_model` writes;
        the message says how to make the model.
    """
    path, sidecar = Path(path), sidecar_path(path)
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a {kind} model file: {KINDS[kind]}")
    if not path.is_file():
        raise DataError(f"no {kind} model at {path}: {KINDS[kind]}")
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError as exc:
        raise DataError(f"{path}: unreadable model file ({exc.strerror or exc})") from exc
    if not is_zip:
        raise DataError(f"{path}: not a Keras model file (a .keras file is a zip archive; this "
                        f"one is corrupt or cut short): {KINDS[kind]}")
    if not sidecar.is_file():
        raise DataError(f"{path}: its settings file {sidecar.name} is missing beside it "
                        "(it is written together with the model)")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise DataError(f"{sidecar}: unreadable model settings ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != _format(kind):
        found = meta.get("format") if isinstance(meta, dict) else None
        raise DataError(f"{sidecar}: not the settings of a {kind} model "
                        f"(format {found!r}, expected {_format(kind)!r})")
    return meta


def load_model(path: str | os.PathLike, kind: str, *, compile: bool = True):
    """Load a model saved by :func:`save_model`: return ``(model, sidecar dict)``."""
    meta = read_sidecar(path, kind)
    import keras

    from . import recurrent  # noqa: F401  (registers the fast layers the models are made of)

    try:
        model = keras.saving.load_model(path, compile=compile)
    except (ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        text = str(exc).strip()
        first_line = text.splitlines()[0] if text else type(exc).__name__
        raise DataError(f"{path}: not a readable Keras model ({first_line})") from exc
    return model, meta
