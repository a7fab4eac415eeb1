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

from .config import TrainingSettings  # noqa: E402
from .inputs import Inputs  # noqa: E402
from .models import build_model  # noqa: E402

__all__ = ["seeded", "train_cell"]

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


def train_cell(
    arch: str, units: int, seed: int, inputs: Inputs, settings: TrainingSettings | None = None,
    *, depth: int = 1, embedding: keras.layers.Embedding | None = None,
    verbose: int = 0,
) -> tuple[dict, keras.Model]:
    """Build, train and score one model; return its result figures and the trained model.

    ``acc``/``val_acc``/``loss``/``val_loss`` are Keras's figures for the last epoch, as in the
    chapter; ``test_acc``/``test_loss`` score the test inputs when there are any. ``embedding``
    is a frozen layer holding ``inputs.embeddings`` to share between cells (see
    :func:`~nlpia_lstm.models.frozen_embedding`); the results are the same with or without it.
    ``verbose`` is Keras's ``fit`` verbosity (0 silent, 1 a bar, 2 a line per epoch).
    """
    settings = settings or TrainingSettings()
    with seeded(seed):
        model = build_model(arch, units, settings.maxlen, inputs.embeddings.shape[1],
                            inputs.embeddings if embedding is None else embedding, depth=depth,
                            dropout=settings.dropout, optimizer=settings.optimizer)
        started = time.perf_counter()
        history = model.fit(
            inputs.x_train, inputs.y_train, batch_size=settings.batch_size,
            epochs=settings.epochs, validation_data=(inputs.x_val, inputs.y_val),
            validation_batch_size=EVAL_BATCH_SIZE, shuffle=True, verbose=verbose,
        ).history
    result = {
        "acc": history["accuracy"][-1],
        "val_acc": history["val_accuracy"][-1],
        "loss": history["loss"][-1],
        "val_loss": history["val_loss"][-1],
        "train_seconds": round(time.perf_counter() - started, 1),
        "params": sum(int(np.prod(w.shape)) for w in model.trainable_weights),
        "test_acc": None,
        "test_loss": None,
    }
    if inputs.x_test is not None:
        scores = model.evaluate(inputs.x_test, inputs.y_test, batch_size=EVAL_BATCH_SIZE,
                                verbose=0, return_dict=True)
        result["test_acc"], result["test_loss"] = scores["accuracy"], scores["loss"]
    return {k: round(float(v), 6) if isinstance(v, float) else v for k, v in result.items()}, model
