"""The NumPy reference of the SimpleRNN, LSTM and GRU cells, gate by gate, against Keras."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from nlpia_lstm.gates import reference  # noqa: E402

from conftest import subprocess_env  # noqa: E402

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


def test_importing_the_reference_does_not_import_keras_or_tensorflow():
    code = ("import sys, nlpia_lstm.gates.reference; "
            "print(any(m in sys.modules for m in ('keras', 'tensorflow', 'jax')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=subprocess_env())
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_reference_equals_keras(kind, return_sequences, x):
    layer, expected = built(kind, x, return_sequences=return_sequences)
    gates = reference.trace(layer, x)
    assert set(gates) == set(reference.GATES[kind.split("_reset")[0]])
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
    assert np.abs(reference.trace(layer, x)["h"] - expected).max() < TOL


def test_lstm_gates_are_in_range_and_follow_the_equations(x):
    layer, _ = built("lstm", 3 * x, return_sequences=True)
    g = reference.trace(layer, 3 * x)
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
    g = reference.trace(layer, 3 * x)
    for gate in ("update", "reset"):
        assert 0.0 <= g[gate].min() and g[gate].max() <= 1.0
    for name in ("candidate", "h"):
        assert -1.0 <= g[name].min() and g[name].max() <= 1.0


def test_unsupported_layers_and_bad_inputs_give_clear_errors(x):
    lstm, _ = built("lstm", x)
    bidirectional = layers.Bidirectional(layers.LSTM(2))
    bidirectional(x)
    with pytest.raises(TypeError, match="forward_layer"):
        reference.trace(bidirectional, x)
    assert reference.trace(bidirectional.forward_layer, x)["h"].shape == (3, 7, 2)
    with pytest.raises(TypeError, match="SimpleRNN, LSTM and GRU"):
        reference.trace(layers.Dense(3), x)
    with pytest.raises(ValueError, match="not built"):
        reference.trace(layers.LSTM(2), x)
    selu = layers.SimpleRNN(2, activation="selu")
    selu(x)
    with pytest.raises(ValueError, match="activation 'selu' is not supported"):
        reference.trace(selu, x)
    with pytest.raises(ValueError, match=r"x\[None\]"):
        reference.trace(lstm, x[0])
    with pytest.raises(ValueError, match="expects 4 features"):
        reference.trace(lstm, x[..., :3])
    with pytest.raises(ValueError, match="NaN"):
        reference.trace(lstm, np.full_like(x, np.nan))
