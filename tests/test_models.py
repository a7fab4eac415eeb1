import numpy as np
import pytest

from nlpia_lstm.errors import ConfigError
from nlpia_lstm.models import ARCHITECTURES, build_model


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
