"""The chapter's classifiers: parameter counts, the frozen-embedding path and its equivalences."""

import numpy as np
import pytest

from nlpia_lstm.errors import ConfigError
from nlpia_lstm.models import ARCHITECTURES, build_model
from nlpia_lstm.preprocessing import char_pad_trunc, clean_data, create_dicts, onehot_encode
from nlpia_lstm.tokens import char_ids

from conftest import CHAR_DATASET, CHAR_MAXLEN


def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize(("arch", "params"), [
    # The chapter's model summaries: SimpleRNN(50) 37,551 and LSTM(50) 90,201 parameters.
    ("simple_rnn", 37_551), ("lstm", 90_201),
    ("birnn", 2 * (300 * 50 + 50 * 50 + 50) + 400 * 100 + 1),
    ("bilstm", 2 * 4 * (300 * 50 + 50 * 50 + 50) + 400 * 100 + 1),
    ("gru", 3 * (300 * 50 + 50 * 50 + 2 * 50) + 400 * 50 + 1),
])
def test_parameter_counts_match_the_chapter(arch, params):
    assert build_model(arch, 50).count_params() == params


def test_embedding_path_is_frozen_and_has_same_trainable_params():
    matrix = np.random.default_rng(0).normal(size=(30, 300)).astype("float32")
    model = build_model("lstm", 50, embeddings=matrix)
    assert trainable(model) == 90_201
    assert model.count_params() == 90_201 + matrix.size
    assert model.input_shape == (None, 400)


def test_stacked_layers_return_sequences_between_them():
    model = build_model("lstm", 4, maxlen=10, embedding_dims=6, depth=2)
    recurrent = [layer for layer in model.layers if "lstm" in layer.name]
    assert len(recurrent) == 2
    assert model.output_shape == (None, 1)


def test_dense_and_id_inputs_give_the_same_predictions():
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(12, 6)).astype("float32")
    matrix[0] = 0.0
    ids = rng.integers(0, 12, size=(5, 7)).astype("int32")
    for arch in ARCHITECTURES:
        dense_model = build_model(arch, 3, maxlen=7, embedding_dims=6)
        id_model = build_model(arch, 3, maxlen=7, embedding_dims=6, embeddings=matrix)
        id_model.set_weights([matrix] + dense_model.get_weights())
        np.testing.assert_allclose(id_model.predict(ids, verbose=0),
                                   dense_model.predict(matrix[ids], verbose=0), atol=1e-6)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"arch": "transformer", "units": 5}, "unknown architecture"),
    ({"arch": "lstm", "units": 0}, "units must be a positive integer"),
    ({"arch": "lstm", "units": 5, "maxlen": -1}, "maxlen"),
    ({"arch": "lstm", "units": 5, "dropout": 1.5}, "dropout"),
    ({"arch": "lstm", "units": 5, "embeddings": np.zeros(3)}, "2-d"),
])
def test_bad_settings_are_clear_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        build_model(**kwargs)


def test_a_shared_embedding_gives_the_same_model():
    """Sharing one frozen layer between models saves memory and changes no number."""
    import keras

    from nlpia_lstm.models import frozen_embedding

    matrix = np.random.default_rng(1).normal(size=(20, 6)).astype("float32")
    shared = frozen_embedding(matrix)
    for arch in ("lstm", "birnn"):
        keras.utils.set_random_seed(3)
        fresh = build_model(arch, 3, maxlen=7, embedding_dims=6, embeddings=matrix).get_weights()
        keras.utils.set_random_seed(3)
        reused = build_model(arch, 3, maxlen=7, embedding_dims=6, embeddings=shared).get_weights()
        assert len(fresh) == len(reused)
        for a, b in zip(fresh, reused, strict=True):
            np.testing.assert_array_equal(a, b)


def test_identity_embedding_model_matches_onehot_model():
    """The character model's lean input (ids, identity Embedding) is the chapter's one-hot."""
    import keras

    chars = char_pad_trunc(clean_data(CHAR_DATASET), CHAR_MAXLEN)
    char_indices, _ = create_dicts(chars)
    n = len(char_indices)
    onehot = onehot_encode(chars, char_indices, CHAR_MAXLEN)
    ids = char_ids(CHAR_DATASET, char_indices, CHAR_MAXLEN)

    embedding = keras.layers.Embedding(n, n, weights=[np.eye(n, dtype="float32")],
                                       trainable=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(embedding(ids)), onehot)

    keras.utils.set_random_seed(0)
    lean = build_model("lstm", 4, CHAR_MAXLEN, n, np.eye(n, dtype="float32"))
    dense = build_model("lstm", 4, CHAR_MAXLEN, n, None)
    for target, source in zip(dense.layers, lean.layers[1:], strict=True):
        target.set_weights(source.get_weights())
    np.testing.assert_allclose(lean.predict(ids, verbose=0), dense.predict(onehot, verbose=0),
                               atol=1e-6)
