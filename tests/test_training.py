"""Training one grid cell: Keras's figures, scored on the test inputs, repeatable by seed."""

import numpy as np
import pytest

from nlpia_lstm.config import TrainingSettings
from nlpia_lstm.inputs import Inputs
from nlpia_lstm.training import (
    EVAL_BATCH_SIZE,
    TEST_FIGURES,
    logits_model,
    score_logits,
    train_cell,
)

SETTINGS = TrainingSettings(epochs=2, batch_size=8, maxlen=10)
FIGURES = ("acc", "val_acc", "loss", "val_loss", *TEST_FIGURES)


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
    assert set(result) == {*FIGURES, "train_seconds", "params", "history"}
    for metric in ("acc", "val_acc", "test_acc", "test_auc", "test_f1", "test_precision",
                   "test_recall"):
        assert 0.0 <= result[metric] <= 1.0, metric
    for loss in ("loss", "val_loss", "test_loss"):
        assert result[loss] > 0.0, loss
    counts = [result[c] for c in ("test_tp", "test_fp", "test_tn", "test_fn")]
    assert all(isinstance(c, int) for c in counts) and sum(counts) == 16
    assert result["test_acc"] == round((result["test_tp"] + result["test_tn"]) / 16, 6)
    assert result["train_seconds"] >= 0.0
    # Only the trainable parameters count: the frozen word vectors are not the model's.
    assert result["params"] == sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert result["params"] < model.count_params()
    assert model.output_shape == (None, 1) and model.input_shape == (None, SETTINGS.maxlen)


def test_history_has_every_epoch_and_ends_with_the_figures(trained):
    result, _ = trained
    history = result["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert set(history[0]) == {"epoch", "acc", "val_acc", "loss", "val_loss", "seconds"}
    for metric in ("acc", "val_acc", "loss", "val_loss"):
        assert history[-1][metric] == result[metric], metric
    assert all(h["seconds"] >= 0.0 for h in history)


def test_test_figures_agree_with_keras_evaluate_and_predict(trained):
    result, model = trained
    x = tiny_inputs()
    keras_scores = model.evaluate(x.x_test, x.y_test, batch_size=EVAL_BATCH_SIZE, verbose=0,
                                  return_dict=True)
    assert result["test_acc"] == round(float(keras_scores["accuracy"]), 6)
    # Keras sums the loss in float32 batch by batch, score_logits in float64.
    assert result["test_loss"] == pytest.approx(float(keras_scores["loss"]), abs=2e-6)
    probabilities = model.predict(x.x_test, batch_size=EVAL_BATCH_SIZE, verbose=0).ravel()
    logits = logits_model(model).predict(x.x_test, verbose=0).ravel()
    np.testing.assert_allclose(1.0 / (1.0 + np.exp(-logits)), probabilities, rtol=1e-6)


def test_score_logits_uses_keras_threshold_and_the_loss_of_the_logits():
    y = np.array([1, 0, 1, 0, 1], dtype="float32")
    z = np.array([2.0, 0.0, 0.0, -40.0, 40.0])  # probability 0.5 is not above it: negative
    scores = score_logits(y, z)
    assert (scores["test_tp"], scores["test_fp"], scores["test_tn"], scores["test_fn"]) == (
        2, 0, 2, 1)
    assert scores["test_acc"] == pytest.approx(0.8)
    assert (scores["test_precision"], scores["test_recall"]) == (1.0, pytest.approx(2 / 3))
    assert scores["test_f1"] == pytest.approx(0.8)
    expected = np.mean([np.log1p(np.exp(-2.0)), np.log(2), np.log(2), np.log1p(np.exp(-40.0)),
                        np.log1p(np.exp(-40.0))])
    assert scores["test_loss"] == pytest.approx(expected, rel=1e-12)
    # A confident mistake costs its whole logit, not a clipped probability's 16.1.
    assert score_logits(np.array([0.0]), np.array([40.0]))["test_loss"] == pytest.approx(40.0)
    assert score_logits(np.ones(3), np.full(3, 0.7))["test_auc"] is None


def test_logits_model_refuses_a_model_without_a_sigmoid_head():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ValueError, match="sigmoid Dense"):
        logits_model(model)


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
    assert all(result[figure] is None for figure in TEST_FIGURES)
    for metric in ("acc", "val_acc", "loss", "val_loss"):
        assert result[metric] == trained[0][metric], metric
