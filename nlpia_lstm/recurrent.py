"""Keras's recurrent layers with a faster loop where Keras would step them one op at a time.

On the CPU (and on any backend without cuDNN) Keras runs a recurrent layer as a loop over the
time steps, and backpropagation records every intermediate of every step and replays them
backwards. For the chapter's small layers that bookkeeping, not arithmetic, is the cost.
The layers here are Keras's ``SimpleRNN``, ``LSTM``, ``GRU`` and ``Bidirectional`` with the
same weights, configuration and initial values, computed another way:

- the input projection ``x @ W + b`` of all time steps is one matrix product, outside the loop;
- the loop keeps only the recurrence, and its gradient is written out by hand
  (:func:`keras.ops.custom_gradient`): a backward loop of a few ops per step, then the weight
  gradients of all steps as single matrix products;
- ``Bidirectional`` runs both directions in one loop, their states side by side and the
  recurrent weights as one block-diagonal matrix.

Same weights give Keras's outputs and gradients to float32 rounding (``tests/test_recurrent.py``).
On a CPU the chapter's BiRNNs train 2 to 3 times as fast as on Keras's layers, a 5-unit LSTM
about twice as fast, GRUs 1.3 to 1.8 times; an LSTM or BiLSTM of 50 units, with more arithmetic
per step, about as fast (``benchmarks/recurrent_layers.py``).
Where Keras would use cuDNN (TensorFlow on a GPU, LSTM and GRU) it still does, and anything
the fast loop does not cover (masks, dropout inside the cell, other activations, ``unroll``)
runs Keras's own loop. Written against ``keras.ops`` only, so it runs on every backend.
"""

from __future__ import annotations

import keras
from keras import activations, layers, ops

__all__ = ["SimpleRNN", "LSTM", "GRU", "Bidirectional", "fast_loop_applies"]

# Gate blocks of each cell's kernels, in Keras's order.
_GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}


def _upstream(args: tuple, upstream) -> tuple:
    """The output gradients as a flat tuple, however the backend hands them over.

    TensorFlow passes one argument per output, JAX one argument shaped like the outputs, and
    PyTorch an ``upstream`` keyword.
    """
    grads = args if upstream is None else (upstream,)
    return tuple(keras.tree.flatten(grads))


def _previous(first, sequence):
    """The states before each step: ``first``, then all but the last of ``sequence``."""
    return ops.concatenate([ops.expand_dims(first, 0), sequence[:-1]], axis=0)


def _over_steps(a, b):
    """``sum over time and batch of a[t, b, :, None] * b[t, b, None, :]``: one matrix product."""
    return ops.tensordot(a, b, axes=[[0, 1], [0, 1]])


@ops.custom_gradient
def _simple_rnn_loop(p, r, h0):
    """``h_t = tanh(p_t + h_{t-1} @ r)`` over time-major ``p`` (T, B, n); returns all ``h``."""

    def step(h, p_t):
        h = ops.tanh(p_t + ops.matmul(h, r))
        return h, h

    _, hs = ops.scan(step, h0, p)

    def grad(*args, upstream=None):
        (dhs,) = _upstream(args, upstream)
        r_t = ops.transpose(r)

        def back(dh_next, inputs):
            dh_t, d_t = inputs
            dz = (dh_t + dh_next) * d_t
            return ops.matmul(dz, r_t), dz

        dh0, dz = ops.scan(back, ops.zeros_like(h0), (dhs, 1.0 - ops.square(hs)), reverse=True)
        return dz, _over_steps(_previous(h0, hs), dz), dh0

    return hs, grad


def _lstm_gates(p, r, h_prev):
    """Input, forget, candidate and output gates (Keras's order) from pre-activations."""
    i, f, g, o = ops.split(p + ops.matmul(h_prev, r), 4, axis=-1)
    return ops.sigmoid(i), ops.sigmoid(f), ops.tanh(g), ops.sigmoid(o)


@ops.custom_gradient
def _lstm_loop(p, r, h0, c0):
    """Keras's LSTM cell over time-major ``p`` (T, B, 4n); returns all ``h`` and the last ``c``."""

    def step(state, p_t):
        h, c = state
        i, f, g, o = _lstm_gates(p_t, r, h)
        c = f * c + i * g
        h = o * ops.tanh(c)
        return (h, c), (h, c)

    (_, c_last), (hs, cs) = ops.scan(step, (h0, c0), p)

    def grad(*args, upstream=None):
        dhs, dc_last = _upstream(args, upstream)
        h_prev, c_prev = _previous(h0, hs), _previous(c0, cs)
        # The gates again, for all steps at once, instead of keeping them from the loop.
        i, f, g, o = _lstm_gates(p, r, h_prev)
        tanh_c = ops.tanh(cs)
        dc_from_h = o * (1.0 - ops.square(tanh_c))
        # d(pre-activations) = [dc, dc, dc, dh] * factors: only dh and dc need the loop.
        factors = ops.concatenate([g * i * (1.0 - i), c_prev * f * (1.0 - f),
                                   i * (1.0 - ops.square(g)), tanh_c * o * (1.0 - o)], axis=-1)
        r_t = ops.transpose(r)

        def back(carry, inputs):
            dh_next, dc_next = carry
            dh_t, dc_from_h_t, f_t, factors_t = inputs
            dh = dh_t + dh_next
            dc = dc_next + dh * dc_from_h_t
            dz = ops.concatenate([dc, dc, dc, dh], axis=-1) * factors_t
            return (ops.matmul(dz, r_t), dc * f_t), (dh, dc)

        (dh0, dc0), (dh, dc) = ops.scan(back, (ops.zeros_like(h0), dc_last),
                                        (dhs, dc_from_h, f, factors), reverse=True)
        dz = ops.concatenate([dc, dc, dc, dh], axis=-1) * factors
        return dz, _over_steps(h_prev, dz), dh0, dc0

    return (hs, c_last), grad


def _gru_parts(p, r, b, h_prev):
    """Update and reset gates, candidate, and the recurrent candidate term (reset_after)."""
    xz, xr, xh = ops.split(p, 3, axis=-1)
    rz, rr, rh = ops.split(ops.matmul(h_prev, r) + b, 3, axis=-1)
    z, reset = ops.sigmoid(xz + rz), ops.sigmoid(xr + rr)
    return z, reset, ops.tanh(xh + reset * rh), rh


@ops.custom_gradient
def _gru_loop(p, r, b, h0):
    """Keras's GRU cell (``reset_after=True``) over time-major ``p`` (T, B, 3n)."""

    def step(h, p_t):
        z, _, candidate, _ = _gru_parts(p_t, r, b, h)
        h = z * h + (1.0 - z) * candidate
        return h, h

    _, hs = ops.scan(step, h0, p)

    def grad(*args, upstream=None):
        (dhs,) = _upstream(args, upstream)
        h_prev = _previous(h0, hs)
        z, reset, candidate, rh = _gru_parts(p, r, b, h_prev)
        d_candidate = (1.0 - z) * (1.0 - ops.square(candidate))
        # d(recurrent term h_prev @ r + b) = [dh, dh, dh] * factors.
        factors = ops.concatenate([(h_prev - candidate) * z * (1.0 - z),
                                   d_candidate * rh * reset * (1.0 - reset),
                                   d_candidate * reset], axis=-1)
        r_t = ops.transpose(r)

        def back(dh_next, inputs):
            dh_t, z_t, factors_t = inputs
            dh = dh_t + dh_next
            d_inner = ops.concatenate([dh, dh, dh], axis=-1) * factors_t
            return dh * z_t + ops.matmul(d_inner, r_t), dh

        dh0, dh = ops.scan(back, ops.zeros_like(h0), (dhs, z, factors), reverse=True)
        d_inner = ops.concatenate([dh, dh, dh], axis=-1) * factors
        dz_part, dr_part, _ = ops.split(d_inner, 3, axis=-1)
        dp = ops.concatenate([dz_part, dr_part, dh * d_candidate], axis=-1)
        return dp, _over_steps(h_prev, d_inner), ops.sum(d_inner, axis=(0, 1)), dh0

    return hs, grad


def _kind(layer) -> str:
    for kind in _GATES:
        if isinstance(layer, getattr(layers, kind)):
            return kind
    raise TypeError(f"not a SimpleRNN, LSTM or GRU layer: {layer!r}")


def _weights(layer) -> tuple:
    """Kernel, recurrent kernel, input bias and recurrent bias (GRU only) as tensors.

    Copies, not the variables: a custom gradient takes their values as plain inputs (on
    TensorFlow a variable read inside one would need a gradient of its own).
    """
    cell = layer.cell
    kernel, recurrent, bias = (ops.copy(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias))
    if _kind(layer) == "GRU":
        return kernel, recurrent, bias[0], bias[1]
    return kernel, recurrent, bias, None


def fast_loop_applies(layer: layers.RNN, mask=None) -> bool:
    """Whether ``layer`` (a Keras SimpleRNN, LSTM or GRU) can run on the fast loop.

    It does for the settings the chapter's models use and more: any units, ``return_sequences``
    either way, ``go_backwards``, ``stateful``, initial states. It does not with a mask, dropout
    inside the cell, ``unroll=True``, no bias, activations other than ``tanh`` and ``sigmoid``,
    a GRU with ``reset_after=False``, or where Keras would use cuDNN: those run as in Keras.
    """
    cell = layer.cell
    if _kind(layer) != "SimpleRNN" and keras.backend.backend() == "tensorflow" and any(
            not device.lower().startswith("cpu") for device in keras.distribution.list_devices()):
        return False  # cuDNN, as Keras's layer would use it
    return (mask is None and not layer.unroll and not cell.dropout and not cell.recurrent_dropout
            and cell.use_bias and cell.activation is activations.tanh
            and getattr(cell, "recurrent_activation", activations.sigmoid) is activations.sigmoid
            and getattr(cell, "reset_after", True))


def _time_major(x):
    return ops.transpose(x, (1, 0, 2))


def _project(sequences, kernel, bias):
    """``sequences @ kernel + bias`` for every step in one product, time-major (T, B, k)."""
    batch, steps = ops.shape(sequences)[0], sequences.shape[1]
    flat = ops.reshape(sequences, (-1, sequences.shape[-1]))
    return _time_major(ops.reshape(ops.matmul(flat, kernel) + bias, (batch, steps, -1)))


def _run(kind: str, p, recurrent, recurrent_bias, state: list):
    """Run the loop of ``kind``; return all outputs (T, B, n) and the final states."""
    if kind == "SimpleRNN":
        hs = _simple_rnn_loop(p, recurrent, state[0])
        return hs, [hs[-1]]
    if kind == "LSTM":
        hs, c_last = _lstm_loop(p, recurrent, state[0], state[1])
        return hs, [hs[-1], c_last]
    hs = _gru_loop(p, recurrent, recurrent_bias, state[0])
    return hs, [hs[-1]]


def _inner_loop(layer, sequences, initial_state):
    """What Keras's ``RNN.inner_loop`` returns: last output, all outputs (B, T, n), states."""
    kernel, recurrent, bias, recurrent_bias = _weights(layer)
    p = _project(sequences, kernel, bias)
    if layer.go_backwards:
        p = ops.flip(p, axis=0)
    hs, states = _run(_kind(layer), p, recurrent, recurrent_bias, list(initial_state))
    return hs[-1], _time_major(hs), states


class _FastLoop:
    """Mixin: Keras's ``inner_loop`` on the fast loop where it applies."""

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not keras.tree.is_nested(initial_state):
            initial_state = [initial_state]
        if keras.tree.is_nested(mask):
            mask = mask[0]
        if fast_loop_applies(self, mask):
            return _inner_loop(self, sequences, initial_state)
        return super().inner_loop(sequences, initial_state, mask, training=training)


@keras.saving.register_keras_serializable(package="nlpia_lstm")
class SimpleRNN(_FastLoop, layers.SimpleRNN):
    """Keras's ``SimpleRNN`` (same arguments and weights), on the fast loop where it applies."""


@keras.saving.register_keras_serializable(package="nlpia_lstm")
class LSTM(_FastLoop, layers.LSTM):
    """Keras's ``LSTM`` (same arguments and weights), on the fast loop where it applies."""


@keras.saving.register_keras_serializable(package="nlpia_lstm")
class GRU(_FastLoop, layers.GRU):
    """Keras's ``GRU`` (same arguments and weights), on the fast loop where it applies."""


def _side_by_side(forward, backward, gates: int, axis: int = -1):
    """Interleave two directions' gate blocks: ``[g1 fwd, g1 bwd, g2 fwd, g2 bwd, ...]``."""
    f, b = ops.split(forward, gates, axis=axis), ops.split(backward, gates, axis=axis)
    return ops.concatenate([part for pair in zip(f, b, strict=True) for part in pair], axis=axis)


def _block_diagonal(forward, backward, gates: int):
    """One recurrent matrix for both directions: state ``[h_fwd, h_bwd]`` feeds its own gates."""
    zeros = ops.zeros_like(forward)
    return ops.concatenate([_side_by_side(forward, zeros, gates),
                            _side_by_side(zeros, backward, gates)], axis=0)


@keras.saving.register_keras_serializable(package="nlpia_lstm")
class Bidirectional(layers.Bidirectional):
    """Keras's ``Bidirectional``, running both directions in one fast loop where it applies.

    It applies when both directions are SimpleRNN, LSTM or GRU layers of one kind and size on
    which :func:`fast_loop_applies`, with ``merge_mode="concat"`` and no initial state or
    returned states; otherwise Keras's own ``Bidirectional`` runs.
    """

    def _fast(self, mask, initial_state) -> bool:
        fwd, bwd = self.forward_layer, self.backward_layer
        try:
            same = _kind(fwd) == _kind(bwd) and fwd.cell.units == bwd.cell.units
        except TypeError:
            return False
        return (same and mask is None and initial_state is None and not self.return_state
                and self.merge_mode == "concat" and not fwd.stateful and not bwd.stateful
                and not fwd.go_backwards and bwd.go_backwards
                and fast_loop_applies(fwd) and fast_loop_applies(bwd))

    def call(self, sequences, initial_state=None, mask=None, training=None):
        if not self._fast(mask, initial_state):
            return super().call(sequences, initial_state=initial_state, mask=mask,
                                training=training)
        fwd, bwd = self.forward_layer, self.backward_layer
        kind, units, gates = _kind(fwd), fwd.cell.units, _GATES[_kind(fwd)]
        (kf, rf, bf, rbf), (kb, rb, bb, rbb) = _weights(fwd), _weights(bwd)
        p = _project(sequences, _side_by_side(kf, kb, gates), _side_by_side(bf, bb, gates))
        # The backward direction reads the steps last to first: flip its half of each gate.
        blocks = ops.split(p, 2 * gates, axis=-1)
        p = ops.concatenate([ops.flip(block, axis=0) if i % 2 else block
                             for i, block in enumerate(blocks)], axis=-1)
        recurrent = _block_diagonal(rf, rb, gates)
        recurrent_bias = None if rbf is None else _side_by_side(rbf, rbb, gates)
        zeros = ops.zeros((ops.shape(sequences)[0], 2 * units), dtype=p.dtype)
        hs, _ = _run(kind, p, recurrent, recurrent_bias, [zeros] * (2 if kind == "LSTM" else 1))
        h_fwd, h_bwd = ops.split(hs, 2, axis=-1)
        if self.return_sequences:
            output = ops.concatenate([h_fwd, ops.flip(h_bwd, axis=0)], axis=-1)
            return ops.cast(_time_major(output), self.compute_dtype)
        return ops.cast(ops.concatenate([h_fwd[-1], h_bwd[-1]], axis=-1), self.compute_dtype)
