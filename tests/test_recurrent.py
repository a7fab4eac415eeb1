"""The fast recurrent layers: Keras's outputs and gradients from the same weights, any backend."""

import importlib.util
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import layers

from nlpia_lstm import recurrent
from nlpia_lstm.models import build_model

from conftest import REPO, subprocess_env

KINDS = ("SimpleRNN", "LSTM", "GRU")
# Float32 rounding: the fast layers add the same terms in another order.
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}


def _pair(kind: str, bidirectional: bool = False, **settings):
    """A Keras layer and the fast one, both built, holding the same (large-ish) weights."""
    ours, theirs = getattr(recurrent, kind)(4, **settings), getattr(layers, kind)(4, **settings)
    if bidirectional:
        ours, theirs = recurrent.Bidirectional(ours), layers.Bidirectional(theirs)
    for layer in (ours, theirs):
        layer.build((3, 7, 5))
    weights = [1.5 * w for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return ours, theirs


def _inputs() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(3, 7, 5)).astype("float32")


def outputs_and_gradients(layer, x: np.ndarray, **call) -> tuple[np.ndarray, list[np.ndarray]]:
    """The layer's output and the gradients of a non-linear loss on it, as NumPy arrays:
    with respect to the input, then every trainable weight."""
    if keras.backend.backend() == "jax":
        import jax
        import jax.numpy as jnp

        fixed = [v.value for v in layer.non_trainable_variables]

        def loss(x, weights):
            y, _ = layer.stateless_call(weights, fixed, x, **call)
            return jnp.sum(y * jnp.sin(3.0 * y)), y

        (_, y), grads = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(
            jnp.asarray(x), [v.value for v in layer.trainable_variables])
        return np.asarray(y), [np.asarray(grads[0]), *map(np.asarray, grads[1])]
    import tensorflow as tf

    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, **call)
        loss = tf.reduce_sum(y * tf.sin(3.0 * y))
    grads = tape.gradient(loss, [x, *[v.value for v in layer.trainable_variables]])
    return y.numpy(), [g.numpy() for g in grads]


CASES = [(kind, bidirectional, settings) for kind in KINDS
         for bidirectional, settings in [
             (False, {"return_sequences": True}), (False, {"return_sequences": False}),
             (False, {"return_sequences": True, "go_backwards": True}),
             (True, {"return_sequences": True}), (True, {"return_sequences": False})]]


def check_same_as_keras(kind: str, bidirectional: bool, settings: dict) -> None:
    ours, theirs = _pair(kind, bidirectional, **settings)
    assert (ours._fast(None, None) if bidirectional else recurrent.fast_loop_applies(ours))
    x = _inputs()
    y_ours, g_ours = outputs_and_gradients(ours, x)
    y_theirs, g_theirs = outputs_and_gradients(theirs, x)
    np.testing.assert_allclose(y_ours, y_theirs, **TOLERANCE)
    assert len(g_ours) == len(g_theirs)
    for mine, keras_grad in zip(g_ours, g_theirs, strict=True):
        np.testing.assert_allclose(mine, keras_grad, **TOLERANCE)


@pytest.mark.parametrize(("kind", "bidirectional", "settings"), CASES)
def test_same_weights_give_keras_outputs_and_gradients(kind, bidirectional, settings):
    check_same_as_keras(kind, bidirectional, settings)


@pytest.mark.parametrize("kind", KINDS)
def test_an_initial_state_and_the_returned_states_are_keras_ones(kind):
    import tensorflow as tf

    ours, theirs = _pair(kind, return_sequences=True, return_state=True)
    x = tf.constant(_inputs())
    n_states = 2 if kind == "LSTM" else 1
    states = [tf.constant(np.full((3, 4), 0.3 * (i + 1), dtype="float32")) for i in range(n_states)]
    grads = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            tape.watch(states)
            out = layer(x, initial_state=states)
            loss = sum(tf.reduce_sum(o * tf.sin(3.0 * o)) for o in out)
        grads.append([g.numpy() for g in tape.gradient(loss, states)])
        for mine, keras_out in zip(out, theirs(x, initial_state=states), strict=True):
            np.testing.assert_allclose(mine.numpy(), keras_out.numpy(), **TOLERANCE)
    for mine, keras_grad in zip(*grads, strict=True):
        np.testing.assert_allclose(mine, keras_grad, **TOLERANCE)


@pytest.mark.parametrize("kind", KINDS)
def test_a_stateful_layer_carries_keras_states_from_call_to_call(kind):
    ours, theirs = (getattr(module, kind)(4, stateful=True, return_sequences=True)
                    for module in (recurrent, layers))
    for layer in (ours, theirs):
        layer.build((3, 7, 5))
    theirs.set_weights([1.5 * w for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    x = _inputs()
    for _ in range(2):  # the second call starts from the states the first one left
        np.testing.assert_allclose(ours(x).numpy(), theirs(x).numpy(), **TOLERANCE)


@pytest.mark.parametrize("settings", [{"dropout": 0.3}, {"recurrent_dropout": 0.3},
                                      {"unroll": True}, {"activation": "relu"}])
def test_what_the_fast_loop_does_not_cover_runs_keras_loop(settings):
    ours, theirs = _pair("LSTM", return_sequences=True, **settings)
    assert not recurrent.fast_loop_applies(ours)
    x = _inputs()
    np.testing.assert_array_equal(ours(x).numpy(), theirs(x).numpy())


def test_a_mask_runs_keras_loop():
    ours, theirs = _pair("GRU", return_sequences=True)
    mask = np.array([[True] * 7, [True] * 4 + [False] * 3, [True] * 2 + [False] * 5])
    x = _inputs()
    np.testing.assert_array_equal(ours(x, mask=mask).numpy(), theirs(x, mask=mask).numpy())
    assert not recurrent.fast_loop_applies(ours, mask)


def test_the_fast_layers_start_from_keras_initial_weights():
    for kind in KINDS:
        keras.utils.set_random_seed(3)
        ours = recurrent.Bidirectional(getattr(recurrent, kind)(6))
        ours.build((2, 5, 4))
        keras.utils.set_random_seed(3)
        theirs = layers.Bidirectional(getattr(layers, kind)(6))
        theirs.build((2, 5, 4))
        for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights(), strict=True):
            np.testing.assert_array_equal(mine, keras_weight)


@pytest.mark.parametrize("arch", ["simple_rnn", "birnn", "lstm", "bilstm", "gru"])
def test_the_chapter_models_run_on_the_fast_loop_and_load_back(arch, tmp_path):
    model = build_model(arch, 3, maxlen=6, embeddings=np.eye(5, 4, dtype="float32"))
    rnn = model.layers[1]
    assert rnn._fast(None, None) if arch.startswith("bi") else recurrent.fast_loop_applies(rnn)
    x = np.random.default_rng(1).integers(0, 5, size=(4, 6)).astype("int32")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    assert type(loaded.layers[1]) is type(rnn)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_same_as_keras_on_jax():
    script = ("import sys; sys.path.insert(0, 'tests'); import test_recurrent as t\n"
              "for case in t.CASES: t.check_same_as_keras(*case)\n"
              "print('checked', len(t.CASES))")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env=subprocess_env(KERAS_BACKEND="jax"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == f"checked {len(CASES)}"
