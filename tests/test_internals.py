"""The NumPy reference cells against Keras, and the ``inspect`` command on a tiny model."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from nlpia_lstm import internals  # noqa: E402
from nlpia_lstm.cli import main  # noqa: E402
from nlpia_lstm.inspection import CSV_COLUMNS  # noqa: E402
from nlpia_lstm.models import build_model  # noqa: E402

TOL = 1e-5
LAYERS = {
    "simple_rnn": lambda **kw: layers.SimpleRNN(5, **kw),
    "lstm": lambda **kw: layers.LSTM(5, **kw),
    "gru": lambda **kw: layers.GRU(5, **kw),
    "gru_reset_before": lambda **kw: layers.GRU(5, reset_after=False, **kw),
}


def built(kind: str, x: np.ndarray, seed: int = 0, **kwargs):
    """A layer of ``kind`` built on ``x``, with random (non-zero) biases; and its output."""
    layer = LAYERS[kind](**kwargs)
    layer(x)
    if layer.cell.bias is not None:
        rng = np.random.default_rng(seed)
        layer.cell.bias.assign(rng.normal(scale=0.5, size=layer.cell.bias.shape))
    return layer, keras.ops.convert_to_numpy(layer(x))


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(1).normal(size=(3, 7, 4)).astype("float32")


def test_importing_internals_does_not_import_keras_or_tensorflow():
    code = ("import sys, nlpia_lstm.internals; "
            "print(any(m in sys.modules for m in ('keras', 'tensorflow', 'jax')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_reference_equals_keras(kind, return_sequences, x):
    layer, expected = built(kind, x, return_sequences=return_sequences)
    gates = internals.trace(layer, x)
    assert set(gates) == set(internals.GATES[kind.split("_reset")[0]])
    for value in gates.values():
        assert value.shape == (3, 7, 5)
    h = gates["h"] if return_sequences else gates["h"][:, -1]
    assert np.abs(h - expected).max() < TOL


@pytest.mark.parametrize("kind, kwargs", [
    ("lstm", {"go_backwards": True}),
    ("gru", {"go_backwards": True}),
    ("simple_rnn", {"activation": "relu", "use_bias": False}),
    ("lstm", {"activation": "softsign", "recurrent_activation": "hard_sigmoid"}),
    ("gru", {"activation": "linear", "recurrent_activation": "sigmoid", "use_bias": False}),
    ("gru_reset_before", {"activation": "relu"}),
])
def test_reference_honours_layer_settings(kind, kwargs, x):
    layer, expected = built(kind, x, return_sequences=True, **kwargs)
    assert np.abs(internals.trace(layer, x)["h"] - expected).max() < TOL


def test_lstm_gates_are_in_range_and_follow_the_equations(x):
    layer, _ = built("lstm", 3 * x, return_sequences=True)
    g = internals.trace(layer, 3 * x)
    for gate in ("forget", "input", "output"):
        assert 0.0 <= g[gate].min() and g[gate].max() <= 1.0
    for name in ("candidate", "h"):
        assert -1.0 <= g[name].min() and g[name].max() <= 1.0
    c_before = np.concatenate([np.zeros_like(g["c"][:, :1]), g["c"][:, :-1]], axis=1)
    np.testing.assert_allclose(g["c"], g["forget"] * c_before + g["input"] * g["candidate"])
    np.testing.assert_allclose(g["h"], g["output"] * np.tanh(g["c"]))


@pytest.mark.parametrize("kind", ["gru", "gru_reset_before"])
def test_gru_gates_are_in_range(kind, x):
    layer, _ = built(kind, 3 * x, return_sequences=True)
    g = internals.trace(layer, 3 * x)
    for gate in ("update", "reset"):
        assert 0.0 <= g[gate].min() and g[gate].max() <= 1.0
    for name in ("candidate", "h"):
        assert -1.0 <= g[name].min() and g[name].max() <= 1.0


def test_unsupported_layers_and_bad_inputs_give_clear_errors(x):
    lstm, _ = built("lstm", x)
    bidirectional = layers.Bidirectional(layers.LSTM(2))
    bidirectional(x)
    with pytest.raises(TypeError, match="forward_layer"):
        internals.trace(bidirectional, x)
    assert internals.trace(bidirectional.forward_layer, x)["h"].shape == (3, 7, 2)
    with pytest.raises(TypeError, match="SimpleRNN, LSTM and GRU"):
        internals.trace(layers.Dense(3), x)
    with pytest.raises(ValueError, match="not built"):
        internals.trace(layers.LSTM(2), x)
    selu = layers.SimpleRNN(2, activation="selu")
    selu(x)
    with pytest.raises(ValueError, match="activation 'selu' is not supported"):
        internals.trace(selu, x)
    with pytest.raises(ValueError, match=r"x\[None\]"):
        internals.trace(lstm, x[0])
    with pytest.raises(ValueError, match="expects 4 features"):
        internals.trace(lstm, x[..., :3])
    with pytest.raises(ValueError, match="NaN"):
        internals.trace(lstm, np.full_like(x, np.nan))


# --- the inspect command -----------------------------------------------------------------------

WORDS = ["the", "movie", "was", "great", "awful", ".", "a", "!", "plot"]
MAXLEN = 6


def save_tiny(folder, arch: str = "lstm", depth: int = 1):
    rng = np.random.default_rng(0)
    matrix = np.vstack([np.zeros((1, 4)), rng.normal(size=(len(WORDS), 4))]).astype("float32")
    keras.utils.set_random_seed(0)
    model = build_model(arch, 3, maxlen=MAXLEN, embedding_dims=4, embeddings=matrix, depth=depth)
    path = folder / f"tiny-{arch}-3-depth{depth}-seed0.keras"
    model.save(path)
    path.with_suffix(".words.txt").write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    return path, model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("models"))


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_inspect_writes_csv_and_heatmap(tiny, tmp_path, capsys):
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
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a great movie !"))
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


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nlpia-lstm: error: "), err
    return lines[0]


def test_inspect_errors_are_one_line(tiny, tmp_path, capsys):
    path, _ = tiny
    gru_path, _ = save_tiny(tmp_path, "gru")
    no_words = tmp_path / "copy.keras"
    no_words.write_bytes(path.read_bytes())
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_text("not a model", encoding="utf-8")
    corrupt.with_suffix(".words.txt").write_text("\n".join(WORDS), encoding="utf-8")
    cases = [
        ([str(tmp_path / "missing.keras"), "great movie"], "no model at"),
        ([str(no_words), "great movie"], "no word list"),
        ([str(corrupt), "great movie"], "not a readable Keras model"),
        ([str(path), "  \n"], "empty"),
        ([str(path), "Brilliant film?"], "none of the review's 3 tokens"),
        ([str(gru_path), "great movie"], "no LSTM layer"),
        ([str(path), "great movie", "--units", "0"], "--units"),
    ]
    for args, message in cases:
        assert main(["inspect", *args, "--out", str(tmp_path)]) != 0
        assert message in one_line_error(capsys)
