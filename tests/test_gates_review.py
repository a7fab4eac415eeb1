"""Tracing a saved grid model's LSTM over one review: ``inspect_review`` and ``inspect``."""

from __future__ import annotations

import io

import numpy as np
import pytest

from nlpia_lstm.cli import main
from nlpia_lstm.errors import ConfigError, DataError
from nlpia_lstm.gates.review import CSV_COLUMNS, inspect_review
from nlpia_lstm.models import build_model
from nlpia_lstm.saving import save_model, sidecar_path

from conftest import one_line_error, read_rows

TOL = 1e-5
WORDS = ["the", "movie", "was", "great", "awful", ".", "a", "!", "plot"]
MAXLEN = 6


def save_tiny(folder, arch: str = "lstm", depth: int = 1, words: list[str] = WORDS,
              level: str = "word"):
    """A grid-like model over WORDS, saved as ``grid --save-models`` saves it."""
    import keras

    rng = np.random.default_rng(0)
    matrix = np.vstack([np.zeros((1, 4)), rng.normal(size=(len(WORDS), 4))]).astype("float32")
    keras.utils.set_random_seed(0)
    model = build_model(arch, 3, maxlen=MAXLEN, embedding_dims=4, embeddings=matrix, depth=depth)
    path = folder / f"tiny-{arch}-3-depth{depth}-seed0.keras"
    save_model(model, path, "classifier", level=level, words=words)
    return path, model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("models"))


def test_inspect_review_traces_the_known_tokens(tiny):
    path, _ = tiny
    result = inspect_review(path, "The movie was great ! zzz")
    assert result.model_name == path.stem and result.units == 3
    assert result.tokens == ["movie", "was", "great", "!"]
    assert (result.n_tokens, result.n_unknown, result.n_cut, result.maxlen) == (6, 2, 0, 6)
    assert all(gate.shape == (4, 3) for gate in result.gates.values())
    assert 0.0 < result.probability < 1.0 and result.max_abs_diff < TOL
    with pytest.raises(ConfigError, match="counts LSTM layers from 1"):
        inspect_review(path, "great", layer=0)


def test_inspect_writes_csv_and_heatmap(tiny, tmp_path, capsys):
    import keras

    path, model = tiny
    # "The" has no row (the list is lower case); 7 known tokens, cut to MAXLEN.
    text = "The movie was great ! the plot was awful ."
    assert main(["inspect", str(path), text, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    ids = np.array([[2, 3, 4, 8, 1, 9]], dtype="int32")
    expected = float(keras.ops.convert_to_numpy(model(ids, training=False))[0, 0])
    assert f"prediction: {expected:.4f} (probability positive)" in out
    assert "10 in the text, 6 read by the model (1 without a word vector, 3 past maxlen 6)" in out
    rows = read_rows(tmp_path / "tiny-lstm-3-depth1-seed0-gates.csv")
    assert list(rows[0]) == CSV_COLUMNS
    assert len(rows) == MAXLEN * 3
    assert [r["token"] for r in rows[::3]] == ["movie", "was", "great", "!", "the", "plot"]
    for row in rows:
        for gate in ("forget", "input", "output"):
            assert 0.0 <= float(row[gate]) <= 1.0
    png = (tmp_path / "tiny-lstm-3-depth1-seed0-gates.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) < 300_000


def test_inspect_limits_units_and_reads_stdin(tiny, tmp_path, capsys, monkeypatch):
    path, _ = tiny
    monkeypatch.setattr("sys.stdin", io.StringIO("a great movie !"))
    assert main(["inspect", str(path), "-", "--out", str(tmp_path), "--units", "2",
                 "--name", "short"]) == 0
    rows = read_rows(tmp_path / "short.csv")
    assert len(rows) == 4 * 2 and {r["unit"] for r in rows} == {"0", "1"}
    assert (tmp_path / "short.png").is_file()
    diff = float(capsys.readouterr().out.split("max |h difference| = ")[1].split()[0])
    assert diff < TOL


def test_inspect_traces_a_stacked_lstm(tmp_path, capsys):
    path, _ = save_tiny(tmp_path, depth=2)
    args = ["inspect", str(path), "a great movie", "--out", str(tmp_path), "--layer"]
    assert main([*args, "2"]) == 0
    diff = float(capsys.readouterr().out.split("max |h difference| = ")[1].split()[0])
    assert diff < TOL
    assert main([*args, "3"]) == 2
    assert "2 stacked LSTM layer(s), not 3" in capsys.readouterr().err


def test_inspect_errors_are_one_line(tiny, tmp_path, capsys):
    path, _ = tiny
    gru_path, _ = save_tiny(tmp_path, "gru")
    bilstm_path, _ = save_tiny(tmp_path, "bilstm")
    no_words = tmp_path / "copy.keras"
    no_words.write_bytes(path.read_bytes())
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_text("not a model", encoding="utf-8")
    sidecar_path(corrupt).write_bytes(sidecar_path(path).read_bytes())
    chars = tmp_path / "chars"
    chars.mkdir()
    char_path, _ = save_tiny(chars, level="char")
    short = tmp_path / "short"
    short.mkdir()
    short_path, _ = save_tiny(short, words=WORDS[:-1])
    cases = [
        ([str(tmp_path / "missing.keras"), "great movie"], "no classifier model at"),
        ([str(no_words), "great movie"], "its settings file copy.json is missing beside it"),
        ([str(corrupt), "great movie"], "not a Keras model file"),
        ([str(path), "  \n"], "empty"),
        ([str(path), "Brilliant film?"], "none of the review's 3 tokens"),
        ([str(gru_path), "great movie"], "no LSTM layer"),
        ([str(bilstm_path), "great movie"], "Bidirectional LSTM"),
        ([str(char_path), "great movie"], "not a word-level model"),
        ([str(short_path), "great movie"], "the word list has 8 words"),
    ]
    for args, message in cases:
        assert main(["inspect", *args, "--out", str(tmp_path)]) == 2, message
        assert message in one_line_error(capsys)
    with pytest.raises(DataError, match="no classifier model at"):
        inspect_review(tmp_path / "missing.keras", "great movie")
