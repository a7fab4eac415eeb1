"""Training one grid cell: Keras's figures, scored on the test inputs, repeatable by seed."""

import numpy as np
import pytest

from nlpia_lstm.config import TrainingSettings
from nlpia_lstm.inputs import Inputs
from nlpia_lstm.training import train_cell

SETTINGS = TrainingSettings(epochs=2, batch_size=8, maxlen=10)
FIGURES = ("acc", "val_acc", "loss", "val_loss", "test_acc", "test_loss")


def tiny_inputs(with_test: bool = True) -> Inputs:
    """Ids into a 20-row matrix; a review is positive when it holds word 1 or 2."""
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(20, 6)).astype("float32")
    embeddings[0] = 0.0

    def split(n):
        x = rng.integers(3, 20, size=(n, SETTINGS.maxlen)).astype("int32")
        y = rng.integers(0, 2, size=n).astype("float32")
        x[y == 1, rng.integers(0, SETTINGS.maxlen)] = rng.integers(1, 3)
        return x, y

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = split(48), split(16), split(16)
    if not with_test:
        x_test = y_test = None
    return Inputs(embeddings, x_train, y_train, x_val, y_val, x_test, y_test)


@pytest.fixture(scope="module")
def trained():
    return train_cell("lstm", 3, 0, tiny_inputs(), SETTINGS)


def test_figures_are_in_range_and_scored_on_the_test_inputs(trained):
    result, model = trained
    assert set(result) == {*FIGURES, "train_seconds", "params"}
    for metric in ("acc", "val_acc", "test_acc"):
        assert 0.0 <= result[metric] <= 1.0, metric
    for loss in ("loss", "val_loss", "test_loss"):
        assert result[loss] > 0.0, loss
    assert result["train_seconds"] >= 0.0
    # Only the trainable parameters count: the frozen word vectors are not the model's.
    assert result["params"] == sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert result["params"] < model.count_params()
    assert model.output_shape == (None, 1) and model.input_shape == (None, SETTINGS.maxlen)


def test_same_seed_same_numbers(trained):
    again, _ = train_cell("lstm", 3, 0, tiny_inputs(), SETTINGS)
    for metric in FIGURES:
        assert again[metric] == trained[0][metric], metric
    other, _ = train_cell("lstm", 3, 1, tiny_inputs(), SETTINGS)
    assert other["loss"] != trained[0]["loss"]


def test_no_test_inputs_no_test_scores_and_a_shared_embedding_changes_nothing(trained):
    from nlpia_lstm.models import frozen_embedding

    x = tiny_inputs(with_test=False)
    result, _ = train_cell("lstm", 3, 0, x, SETTINGS, embedding=frozen_embedding(x.embeddings))
    assert result["test_acc"] is None and result["test_loss"] is None
    for metric in ("acc", "val_acc", "loss", "val_loss"):
        assert result[metric] == trained[0][metric], metric
