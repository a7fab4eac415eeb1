"""Shared fixtures and helpers: tiny IMDB-like data, tiny word vectors, tiny sentence pairs,
an isolated cache folder, and the CLI's exit status and one-line errors."""

from __future__ import annotations

import csv
import logging
import os
import random
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

POSITIVE = ["great", "wonderful", "love", "brilliant", "superb", "enjoyed"]
NEGATIVE = ["awful", "boring", "hate", "terrible", "dull", "waste"]
FILLER = ["the", "movie", "film", "was", "a", "plot", "actors", "and", "it", "this", "story"]
REPO = Path(__file__).resolve().parents[1]

# Character-level edge cases side by side: empty, only unknown characters, exactly CHAR_MAXLEN,
# longer, and "İ", whose lower case is two code points (so lower-casing comes before the cut).
CHAR_MAXLEN = 12
CHAR_TEXTS = ["", "\u00e9\u00fc\t\u2014\n", "abcdefghijkl", "Great movie, I LOVED it!!! 10/10",
              "\u0130stanbul?"]
CHAR_DATASET = [(i % 2, text) for i, text in enumerate(CHAR_TEXTS)]


def review(rng: random.Random, label: int, n_words: int = 12) -> str:
    """A review whose sentiment words give its label away."""
    cue = POSITIVE if label == 1 else NEGATIVE
    words = [rng.choice(FILLER) for _ in range(n_words)]
    for _ in range(3):
        words.insert(rng.randrange(len(words)), rng.choice(cue))
    return " ".join(words).capitalize() + "."


def make_imdb(root: Path, n_per_label: int = 40, seed: int = 0) -> Path:
    """Write an ``aclImdb/`` folder with train/test pos/neg and train/unsup reviews."""
    rng = random.Random(seed)
    folder = root / "aclImdb"
    layout = [("train", "pos", 1, n_per_label), ("train", "neg", 0, n_per_label),
              ("test", "pos", 1, n_per_label // 2), ("test", "neg", 0, n_per_label // 2),
              ("train", "unsup", None, n_per_label)]
    for split, sub, label, n in layout:
        (folder / split / sub).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            text = review(rng, rng.randint(0, 1) if label is None else label)
            (folder / split / sub / f"{i}_0.txt").write_text(text, encoding="utf-8")
    (folder / "imdb.vocab").write_text("the\n", encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own cache folder and no data folder, so nothing leaks between tests."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("NLPIA_LSTM_CACHE", str(cache))
    monkeypatch.delenv("NLPIA_LSTM_DATA", raising=False)
    return cache


@pytest.fixture(autouse=True)
def reset_package_logger():
    """The CLI points the package's logger at the stderr of the test that ran it: undo that."""
    yield
    logger = logging.getLogger("nlpia_lstm")
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


@pytest.fixture(autouse=True)
def serial_grids(monkeypatch):
    """Grids run in the test's own process unless a test asks for Dask workers itself."""
    monkeypatch.setenv("NLPIA_LSTM_WORKERS", "1")


@pytest.fixture
def fake_training(monkeypatch):
    """Cells that 'train' at once, with fixed figures: what the grid writes, not how it learns."""
    from nlpia_lstm import training

    def train_cell(arch, units, seed, inputs, settings=None, **kwargs):
        return {"acc": 0.5, "val_acc": 0.25, "loss": 0.7, "val_loss": 0.8, "test_acc": 0.75,
                "test_loss": 0.6, "train_seconds": 0.1, "params": 1}, None

    monkeypatch.setattr(training, "train_cell", train_cell)


@pytest.fixture(scope="session")
def imdb_folder(tmp_path_factory) -> Path:
    return make_imdb(tmp_path_factory.mktemp("imdb"))


@pytest.fixture(scope="session")
def imdb_archive(imdb_folder: Path, tmp_path_factory) -> Path:
    archive = tmp_path_factory.mktemp("archive") / "aclImdb_v1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(imdb_folder, arcname="aclImdb")
    return archive


@pytest.fixture(scope="session")
def word2vec_file(tmp_path_factory) -> Path:
    """A tiny binary word2vec file with 8-d vectors for the tiny reviews' words."""
    from gensim.models import KeyedVectors

    words = POSITIVE + NEGATIVE + FILLER + ["The", "Movie", "Film", "."]
    kv = KeyedVectors(vector_size=8)
    kv.add_vectors(words, np.random.default_rng(0).normal(size=(len(words), 8)).astype("float32"))
    path = tmp_path_factory.mktemp("vectors") / "tiny-vectors.bin"
    kv.save_word2vec_format(str(path), binary=True)
    return path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def tiny_config(tmp_path: Path, data: Path, vectors: Path | None = None, extra: str = "",
                name: str = "tiny", models: str = 'arch = "lstm"\nunits = [3]') -> Path:
    """An experiment config for the tiny data: a few seconds per cell."""
    vec = f'[vectors]\npath = "{vectors}"\n' if vectors else (
        "[vectors.word2vec]\nvector_size = 8\nmin_count = 1\nepochs = 2\n")
    return write(tmp_path / f"{name}.toml", f'''name = "{name}"
seeds = [0]
{extra}
[data]
path = "{data}"
score_test = true

{vec}
[training]
epochs = 1
maxlen = 20
batch_size = 8

[[models]]
{models}
''')


def subprocess_env(**extra: str) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **extra)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def read_rows(path) -> list[dict]:
    """The rows of a CSV, as dicts of text."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- the command line --------------------------------------------------------------------


def exit_status(argv: list[str]) -> int:
    """The CLI's exit status, whether main() returns it or argparse exits with it."""
    from nlpia_lstm.cli import main

    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def one_line_error(capsys, prefix: str = "nlpia-lstm: error: ") -> str:
    """The one line the CLI wrote to stderr (no traceback), starting with ``prefix``."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), err
    return lines[0]


# --- English-Spanish pairs ---------------------------------------------------------------

SUBJECTS = [("I", "yo"), ("you", "tú"), ("he", "él"), ("she", "ella"), ("we", "nosotros"),
            ("they", "ellos")]
OBJECTS = [("bread", "pan"), ("water", "agua"), ("coffee", "café"), ("rice", "arroz"),
           ("a lemon", "un limón"), ("pineapple", "piña"), ("the cake", "el pastel")]


def generated_pairs() -> list[tuple[str, str]]:
    """42 English sentences, each with one or two Spanish translations (a second one with ¡!)."""
    pairs = []
    for i, (subject, sujeto) in enumerate(SUBJECTS):
        for j, (thing, cosa) in enumerate(OBJECTS):
            pairs.append((f"{subject.capitalize()} want {thing}.", f"{sujeto.capitalize()} "
                          f"quiere {cosa}."))
            if (i + j) % 2:
                pairs.append((f"{subject.capitalize()} want {thing}.", f"¡{sujeto.capitalize()} "
                              f"quiere {cosa}!"))
    return pairs


def write_zip(path: Path, pairs: list[tuple[str, str]]) -> Path:
    """A ``spa-eng.zip`` laid out like the official one, holding ``pairs``."""
    lines = "".join(f"{en}\t{es}\tCC-BY 2.0 (France) Attribution: tatoeba.org\n"
                    for en, es in pairs)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("spa-eng/spa.txt", lines)
        archive.writestr("spa-eng/_about.txt", "tiny test corpus\n")
    return path
