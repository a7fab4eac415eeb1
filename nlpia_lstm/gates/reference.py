"""Look inside a recurrent layer: a NumPy reference of its cell that reports every gate.

The chapter explains the LSTM with its gates; this module computes them. It reads the weights
of a built Keras 3 ``SimpleRNN``, ``LSTM`` or ``GRU`` layer and runs the textbook equations in
NumPy (float64), one time step at a time, keeping every intermediate value. A test checks that
the result equals the layer's own output to about 1e-5.

With ``sigma`` the recurrent activation (``sigmoid`` by default) and ``tanh`` the
activation, an LSTM step on input ``x_t`` is::

    f_t = sigma(x_t W_f + h_{t-1} U_f + b_f)        forget gate: how much memory is kept
    i_t = sigma(x_t W_i + h_{t-1} U_i + b_i)        input gate: how much candidate is added
    g_t = tanh(x_t W_c + h_{t-1} U_c + b_c)         candidate memory
    c_t = f_t * c_{t-1} + i_t * g_t                 memory (cell state)
    o_t = sigma(x_t W_o + h_{t-1} U_o + b_o)        output gate: how much memory is shown
    h_t = o_t * tanh(c_t)                           output (hidden state)

Keras stores the four blocks of ``W``, ``U`` and ``b`` side by side in the order i, f, c, o.
A GRU step (Keras's convention: ``z`` weights the *old* state) is::

    z_t = sigma(x_t W_z + h_{t-1} U_z + b_z)        update gate
    r_t = sigma(x_t W_r + h_{t-1} U_r + b_r)        reset gate
    g_t = tanh(x_t W_h + r_t * (h_{t-1} U_h + b'_h) + b_h)    reset_after=True (default)
    g_t = tanh(x_t W_h + (r_t * h_{t-1}) U_h + b_h)           reset_after=False
    h_t = z_t * h_{t-1} + (1 - z_t) * g_t

and a SimpleRNN step is ``h_t = tanh(x_t W + h_{t-1} U + b)``.

Every sequence starts from zero state, as a Keras layer called without ``initial_state`` does.
Dropout is left out (it is off at inference) and masks are not applied (the grid's models use
none). Importing this module does not import Keras or TensorFlow: it only reads the layer's
weights and config.

Examples
--------
>>> import keras, numpy as np
>>> layer = keras.layers.LSTM(8, return_sequences=True)
>>> x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
>>> keras_h = layer(x)
>>> gates = trace(layer, x)
>>> np.allclose(gates["h"], keras_h, atol=1e-5)
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["ACTIVATIONS", "GATES", "CellWeights", "read_weights", "run", "trace"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # Split by sign so that exp never overflows.
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def _hard_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0)


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "hard_sigmoid": _hard_sigmoid,
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x,
    "softsign": lambda x: x / (1.0 + np.abs(x)),
}
"""Activation functions the reference knows, by their Keras names."""

GATES: dict[str, tuple[str, ...]] = {
    "simple_rnn": ("h",),
    "lstm": ("h", "c", "forget", "input", "candidate", "output"),
    "gru": ("h", "update", "reset", "candidate"),
}
"""The arrays :func:`trace` returns for each kind of layer."""

_KINDS = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}
_BLOCKS = {"simple_rnn": 1, "lstm": 4, "gru": 3}


@dataclass(frozen=True)
class CellWeights:
    """Everything the reference needs from a recurrent layer, as float64 NumPy arrays.

    Attributes
    ----------
    kind : {"simple_rnn", "lstm", "gru"}
        The layer type.
    kernel : ndarray of shape (features, blocks * units)
        Input weights ``W``; ``blocks`` is 1, 4 (i, f, c, o) or 3 (z, r, h).
    recurrent_kernel : ndarray of shape (units, blocks * units)
        Recurrent weights ``U``, blocks in the same order.
    bias : ndarray or None
        Shape ``(blocks * units,)``, or ``(2, 3 * units)`` for a GRU with ``reset_after``
        (row 0 is added to the input part, row 1 to the recurrent part); ``None`` without bias.
    activation, recurrent_activation : str
        Keras names of the activations (``recurrent_activation`` is unused by a SimpleRNN).
    reset_after : bool
        GRU only: whether the reset gate multiplies ``h U_h`` (True) or ``h`` (False).
    go_backwards : bool
        Whether the layer reads its input sequence last step first.
    """

    kind: str
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray | None
    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"
    reset_after: bool = True
    go_backwards: bool = False

    def __post_init__(self) -> None:
        if self.kind not in _BLOCKS:
            raise ValueError(f"kind must be one of {', '.join(_BLOCKS)}, got {self.kind!r}")
        blocks, units = _BLOCKS[self.kind], self.units
        if self.kernel.ndim != 2 or self.kernel.shape[1] != blocks * units:
            raise ValueError(f"{self.kind} kernel must have shape (features, {blocks} * units), "
                             f"got {self.kernel.shape}")
        if self.recurrent_kernel.shape != (units, blocks * units):
            raise ValueError(f"{self.kind} recurrent_kernel must have shape "
                             f"({units}, {blocks * units}), got {self.recurrent_kernel.shape}")
        if self.bias is not None:
            expected = ((2, 3 * units) if self.kind == "gru" and self.reset_after
                        else (blocks * units,))
            if self.bias.shape != expected:
                raise ValueError(f"{self.kind} bias must have shape {expected}, "
                                 f"got {self.bias.shape}")
        for role in ("activation", "recurrent_activation"):
            _activation(getattr(self, role), role)

    @property
    def units(self) -> int:
        """Number of units (the size of ``h``)."""
        return self.recurrent_kernel.shape[0]

    @property
    def features(self) -> int:
        """Number of input features the layer expects per time step."""
        return self.kernel.shape[0]


def _activation(name: str | None, role: str) -> Callable[[np.ndarray], np.ndarray]:
    key = "linear" if name is None else name
    if not isinstance(key, str) or key not in ACTIVATIONS:
        raise ValueError(f"{role} {name!r} is not supported by the NumPy reference; "
                         f"supported: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[key]


def _layer_kind(layer) -> str:
    names = [cls.__name__ for cls in type(layer).__mro__]
    if "Bidirectional" in names:
        raise TypeError("a Bidirectional layer runs two layers: trace layer.forward_layer and "
                        "layer.backward_layer separately")
    for name in names:
        if name in _KINDS:
            return _KINDS[name]
    raise TypeError(f"trace reads Keras SimpleRNN, LSTM and GRU layers, got {type(layer).__name__}"
                    + (" (pass the layer, not its cell)" if names[0].endswith("Cell") else ""))


def _to_numpy(variable) -> np.ndarray:
    value = variable.numpy() if hasattr(variable, "numpy") else variable
    return np.array(value, dtype=np.float64)


def _activation_name(value: str | dict | None) -> str | None:
    """The Keras name of a serialized activation (a name, or a dict from a saved model)."""
    if isinstance(value, dict):
        value = value.get("config", value.get("class_name"))
    return value


def read_weights(layer) -> CellWeights:
    """Read the weights and settings of a built Keras recurrent layer.

    Parameters
    ----------
    layer : keras.layers.SimpleRNN, keras.layers.LSTM or keras.layers.GRU
        A built layer (called once, or loaded with a model).

    Returns
    -------
    CellWeights

    Raises
    ------
    TypeError
        For any other layer; a ``Bidirectional`` layer's message says to pass its
        ``forward_layer`` or ``backward_layer``.
    ValueError
        When the layer is not built yet or uses an activation the reference lacks.
    """
    kind = _layer_kind(layer)
    if not getattr(layer, "built", False):
        raise ValueError(f"layer {layer.name!r} is not built yet: call it on an input "
                         "(or build it) before tracing it")
    cell = layer.cell
    config = layer.get_config()
    use_bias = getattr(cell, "use_bias", True) and getattr(cell, "bias", None) is not None
    return CellWeights(
        kind=kind,
        kernel=_to_numpy(cell.kernel),
        recurrent_kernel=_to_numpy(cell.recurrent_kernel),
        bias=_to_numpy(cell.bias) if use_bias else None,
        activation=_activation_name(config.get("activation", "tanh")),
        recurrent_activation=_activation_name(config.get("recurrent_activation", "sigmoid")),
        reset_after=bool(config.get("reset_after", True)),
        go_backwards=bool(config.get("go_backwards", False)),
    )


def _check_inputs(inputs, features: int) -> np.ndarray:
    try:
        x = np.asarray(inputs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"inputs must be a numeric array (batch, time, features): {exc}") from exc
    if x.ndim != 3:
        hint = " (for one sequence use x[None])" if x.ndim == 2 else ""
        raise ValueError(f"inputs must have shape (batch, time, features), got shape "
                         f"{x.shape}{hint}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"inputs need at least one sequence and one time step, got {x.shape}")
    if x.shape[2] != features:
        raise ValueError(f"the layer expects {features} features per time step, inputs have "
                         f"{x.shape[2]}")
    if not np.isfinite(x).all():
        raise ValueError("inputs contain NaN or infinite values")
    return x


def run(weights: CellWeights, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Run the reference cell over ``inputs`` from zero state, keeping every gate.

    Parameters
    ----------
    weights : CellWeights
        From :func:`read_weights`, or built by hand.
    inputs : array_like of shape (batch, time, features)

    Returns
    -------
    dict of str to ndarray
        The arrays named in ``GATES[weights.kind]``, each float64 of shape
        ``(batch, time, units)``. Step ``t`` is the ``t``-th step the layer computes, as in the
        layer's ``return_sequences`` output: with ``go_backwards`` that is input step
        ``time - 1 - t``.
    """
    x = _check_inputs(inputs, weights.features)
    if weights.go_backwards:
        x = x[:, ::-1]
    act = ACTIVATIONS[weights.activation or "linear"]
    rec_act = ACTIVATIONS[weights.recurrent_activation or "linear"]
    step = {"simple_rnn": _simple_rnn_steps, "lstm": _lstm_steps, "gru": _gru_steps}
    return step[weights.kind](x, weights, act, rec_act)


def trace(layer, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Run a Keras recurrent layer's equations in NumPy and return every gate at every step.

    Parameters
    ----------
    layer : keras.layers.SimpleRNN, keras.layers.LSTM or keras.layers.GRU
        A built layer. Its ``activation``, ``recurrent_activation``, ``use_bias``,
        ``reset_after`` (GRU) and ``go_backwards`` are honoured.
    inputs : array_like of shape (batch, time, features)
        What the layer would be called on.

    Returns
    -------
    dict of str to ndarray
        Float64 arrays of shape ``(batch, time, units)``:

        - ``"h"``: the hidden state (the layer's output at each step), for every layer;
        - LSTM: ``"c"`` (memory), ``"forget"``, ``"input"``, ``"candidate"``, ``"output"``;
        - GRU: ``"update"``, ``"reset"``, ``"candidate"``.

        ``h[:, -1]`` is what the layer returns with ``return_sequences=False``.

    Raises
    ------
    TypeError
        When ``layer`` is not one of those three (including ``Bidirectional``).
    ValueError
        When the layer is not built, uses an unsupported activation, or ``inputs`` has the
        wrong shape or non-finite values.
    """
    return run(read_weights(layer), inputs)


def _split_bias(weights: CellWeights) -> tuple[np.ndarray, np.ndarray]:
    """Bias added to the input projection and to the recurrent projection."""
    width = weights.kernel.shape[1]
    if weights.bias is None:
        return np.zeros(width), np.zeros(width)
    if weights.bias.ndim == 2:
        return weights.bias[0], weights.bias[1]
    return weights.bias, np.zeros(width)


def _start(x: np.ndarray, w: CellWeights, kind: str):
    """What every cell starts from: empty outputs for its gates, the input projection of all
    steps in one product (with the input bias), the recurrent bias, and the zero state."""
    input_bias, recurrent_bias = _split_bias(w)
    out = {name: np.empty((x.shape[0], x.shape[1], w.units)) for name in GATES[kind]}
    return out, x @ w.kernel + input_bias, recurrent_bias, np.zeros((x.shape[0], w.units))


def _simple_rnn_steps(x, w: CellWeights, act, rec_act) -> dict[str, np.ndarray]:
    out, projected, _, h = _start(x, w, "simple_rnn")
    for t in range(x.shape[1]):
        h = act(projected[:, t] + h @ w.recurrent_kernel)
        out["h"][:, t] = h
    return out


def _lstm_steps(x, w: CellWeights, act, rec_act) -> dict[str, np.ndarray]:
    out, projected, _, h = _start(x, w, "lstm")
    n, c = w.units, np.zeros_like(h)
    for t in range(x.shape[1]):
        z = projected[:, t] + h @ w.recurrent_kernel
        i = rec_act(z[:, :n])
        f = rec_act(z[:, n : 2 * n])
        g = act(z[:, 2 * n : 3 * n])
        o = rec_act(z[:, 3 * n :])
        c = f * c + i * g
        h = o * act(c)
        for name, value in (("h", h), ("c", c), ("forget", f), ("input", i), ("candidate", g),
                            ("output", o)):
            out[name][:, t] = value
    return out


def _gru_steps(x, w: CellWeights, act, rec_act) -> dict[str, np.ndarray]:
    out, projected, recurrent_bias, h = _start(x, w, "gru")
    n = w.units
    u_zr, u_h = w.recurrent_kernel[:, : 2 * n], w.recurrent_kernel[:, 2 * n :]
    for t in range(x.shape[1]):
        xz, xr, xh = projected[:, t, :n], projected[:, t, n : 2 * n], projected[:, t, 2 * n :]
        rec = h @ u_zr + recurrent_bias[: 2 * n]
        z = rec_act(xz + rec[:, :n])
        r = rec_act(xr + rec[:, n:])
        if w.reset_after:
            g = act(xh + r * (h @ u_h + recurrent_bias[2 * n :]))
        else:
            g = act(xh + (r * h) @ u_h)
        h = z * h + (1.0 - z) * g
        for name, value in (("h", h), ("update", z), ("reset", r), ("candidate", g)):
            out[name][:, t] = value
    return out
