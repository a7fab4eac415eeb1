"""Train and score one grid cell: one architecture, one unit count, one seed."""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterator

# TensorFlow reads this when it starts; other backends ignore it. Set before Keras loads.
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from scipy.special import expit  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from .config import TrainingSettings  # noqa: E402
from .inputs import Inputs  # noqa: E402
from .models import build_model  # noqa: E402

__all__ = ["EpochTimer", "logits_model", "score_logits", "seeded", "train_cell"]

EVAL_BATCH_SIZE = 256


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed a run, so that its figures depend on ``seed`` alone, whatever else the process does.

    ``keras.utils.set_random_seed`` seeds Python, NumPy and the backend. Keras then draws the
    default seeds of initializers and dropout from Python's global ``random``, which other
    threads of the process use too: a Dask worker's event loop samples objects with
    ``random.sample`` to estimate their sizes while a task builds its model. Inside this block
    Keras draws from a private generator seeded the same way instead, so it draws exactly what
    it would in a quiet process.
    """
    from keras.src.random import seed_generator

    keras.utils.set_random_seed(seed)
    shared = seed_generator.python_random
    seed_generator.python_random = random.Random(seed)
    try:
        yield
    finally:
        seed_generator.python_random = shared


class EpochTimer(keras.callbacks.Callback):
    """A Keras callback that records how many seconds each epoch of ``fit`` took."""

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._started)


def score_logits(y_true: np.ndarray, logits: np.ndarray) -> dict:
    """Score a classifier's logits (its output before the sigmoid) against 0/1 labels.

    Parameters
    ----------
    y_true : numpy.ndarray
        The labels, 0 or 1.
    logits : numpy.ndarray
        The model's logits for the same reviews (:func:`logits_model`).

    Returns
    -------
    dict
        ``test_acc`` (a review counts as positive when its probability is above 0.5, as Keras's
        binary accuracy has it), ``test_loss`` (the mean binary cross-entropy, computed from the
        logits as Keras's TensorFlow backend computes it, so that reviews the model is sure of
        give their true loss instead of one clipped at a probability of 1e-7), ``test_auc``
        (ROC AUC; ``None`` when the labels hold one class only), ``test_f1``,
        ``test_precision``, ``test_recall`` and the confusion counts ``test_tp``, ``test_fp``,
        ``test_tn``, ``test_fn``.
    """
    y = np.asarray(y_true).ravel().astype(int)
    z = np.asarray(logits, dtype="float64").ravel()
    predicted = (expit(z) > 0.5).astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, predicted, average="binary", zero_division=0.0)
    tn, fp, fn, tp = confusion_matrix(y, predicted, labels=[0, 1]).ravel()
    return {
        "test_acc": float(np.mean(predicted == y)),
        "test_loss": float(np.mean(np.logaddexp(0.0, z) - y * z)),
        # Logits rank the reviews as the probabilities do, without ties where those round to 1.
        "test_auc": float(roc_auc_score(y, z)) if len(np.unique(y)) == 2 else None,
        "test_f1": float(f1),
        "test_precision": float(precision),
        "test_recall": float(recall),
        "test_tp": int(tp), "test_fp": int(fp), "test_tn": int(tn), "test_fn": int(fn),
    }


class _Logits(keras.layers.Layer):
    """A ``Dense`` layer's output before its activation, with the ``Dense`` layer's weights."""

    def __init__(self, dense: keras.layers.Dense, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dense = dense

    def call(self, x):
        return keras.ops.matmul(x, self.dense.kernel) + self.dense.bias


def logits_model(model: keras.Model) -> keras.Model:
    """A model that shares ``model``'s layers and outputs the logits of its last ``Dense``.

    The test split is scored from one pass of it: probabilities, accuracy and the loss all
    follow from the logits, so ``evaluate`` and ``predict`` need not both run.
    """
    head = model.layers[-1]
    if not isinstance(head, keras.layers.Dense) or head.activation is not keras.activations.sigmoid:
        raise ValueError(f"{model.name} does not end in a sigmoid Dense layer")
    return keras.Model(model.inputs, _Logits(head)(head.input))


TEST_FIGURES = ("test_acc", "test_loss", "test_auc", "test_f1", "test_precision", "test_recall",
                "test_tp", "test_fp", "test_tn", "test_fn")


def _rounded(value):
    """A float rounded to 6 decimals, as every figure of a row; anything else as it is."""
    return round(float(value), 6) if isinstance(value, float | np.floating) else value


def train_cell(
    arch: str, units: int, seed: int, inputs: Inputs, settings: TrainingSettings | None = None,
    *, depth: int = 1, embedding: keras.layers.Embedding | None = None,
    verbose: int = 0,
) -> tuple[dict, keras.Model]:
    """Build, train and score one model; return its result figures and the trained model.

    ``acc``/``val_acc``/``loss``/``val_loss`` are Keras's figures for the last epoch, as in the
    chapter; ``history`` holds them for every epoch (``epoch`` from 1, with the epoch's
    ``seconds``). The test inputs, when there are any, are scored from the model's logits in
    one pass (:func:`score_logits`); without them the test figures are ``None``.
    ``embedding`` is a frozen layer holding ``inputs.embeddings`` to share between cells (see
    :func:`~nlpia_lstm.models.frozen_embedding`); the results are the same with or without it.
    ``verbose`` is Keras's ``fit`` verbosity (0 silent, 1 a bar, 2 a line per epoch).
    """
    settings = settings or TrainingSettings()
    timer = EpochTimer()
    with seeded(seed):
        model = build_model(arch, units, settings.maxlen, inputs.embeddings.shape[1],
                            inputs.embeddings if embedding is None else embedding, depth=depth,
                            dropout=settings.dropout, optimizer=settings.optimizer)
        started = time.perf_counter()
        history = model.fit(
            inputs.x_train, inputs.y_train, batch_size=settings.batch_size,
            epochs=settings.epochs, validation_data=(inputs.x_val, inputs.y_val),
            validation_batch_size=EVAL_BATCH_SIZE, shuffle=True, verbose=verbose,
            callbacks=[timer],
        ).history
    result = {
        "acc": history["accuracy"][-1],
        "val_acc": history["val_accuracy"][-1],
        "loss": history["loss"][-1],
        "val_loss": history["val_loss"][-1],
        "train_seconds": round(time.perf_counter() - started, 1),
        "params": sum(int(np.prod(w.shape)) for w in model.trainable_weights),
        **dict.fromkeys(TEST_FIGURES),
    }
    if inputs.x_test is not None:
        logits = logits_model(model).predict(inputs.x_test, batch_size=EVAL_BATCH_SIZE,
                                             verbose=0)
        result.update(score_logits(inputs.y_test, logits))
    result = {k: _rounded(v) for k, v in result.items()}
    result["history"] = [
        {"epoch": i + 1, "acc": _rounded(history["accuracy"][i]),
         "val_acc": _rounded(history["val_accuracy"][i]), "loss": _rounded(history["loss"][i]),
         "val_loss": _rounded(history["val_loss"][i]), "seconds": round(seconds, 1)}
        for i, seconds in enumerate(timer.seconds)
    ]
    return result, model
