"""The chapter's recurrent classifiers, built with Keras 3 (any backend).

Every architecture shares the chapter's head::

    RNN(units, return_sequences=True) -> Dropout(0.2) -> Flatten() -> Dense(1, sigmoid)

compiled with ``rmsprop`` and ``binary_crossentropy``. Layer settings are Keras's defaults, so
on a CUDA GPU the LSTM and GRU layers run on cuDNN kernels.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from . import recurrent
from .config import ARCHITECTURES
from .errors import ConfigError

__all__ = ["ARCHITECTURES", "build_model", "frozen_embedding", "recurrent_layer"]


def recurrent_layer(arch: str, units: int, return_sequences: bool = True) -> layers.Layer:
    """Return the recurrent layer of ``arch``: a bare RNN or one wrapped in ``Bidirectional``."""
    cell = {"simple_rnn": recurrent.SimpleRNN, "birnn": recurrent.SimpleRNN,
            "lstm": recurrent.LSTM, "bilstm": recurrent.LSTM, "gru": recurrent.GRU}[arch]
    layer = cell(units, return_sequences=return_sequences)
    return recurrent.Bidirectional(layer) if arch.startswith("bi") else layer


def frozen_embedding(embeddings: np.ndarray) -> layers.Embedding:
    """Return a frozen ``Embedding`` holding ``embeddings`` (row 0 = zero padding vector).

    A grid builds one and shares it between its models: TensorFlow does not give back the
    memory of a model's variables when the model is dropped, so a fresh 90 MB matrix per model
    adds up over a grid.
    """
    embeddings = np.asarray(embeddings, dtype="float32")
    if embeddings.ndim != 2:
        raise ConfigError(f"embeddings must be a 2-d matrix, got shape {embeddings.shape}")
    return layers.Embedding(embeddings.shape[0], embeddings.shape[1], weights=[embeddings],
                            trainable=False, name="word_vectors")


def build_model(
    arch: str,
    units: int,
    maxlen: int = 400,
    embedding_dims: int = 300,
    embeddings: np.ndarray | layers.Embedding | None = None,
    *,
    depth: int = 1,
    dropout: float = 0.2,
    optimizer: str = "rmsprop",
) -> keras.Model:
    """Build and compile the chapter's sentiment classifier.

    Parameters
    ----------
    arch : {"simple_rnn", "birnn", "lstm", "bilstm", "gru"}
        Recurrent layer; ``birnn`` and ``bilstm`` are ``Bidirectional`` wrappers.
    units : int
        Units of each recurrent layer (per direction for the bidirectional ones).
    maxlen, embedding_dims : int
        Tokens per review and size of a word vector.
    embeddings : ndarray of shape (n_rows, embedding_dims) or Embedding layer, optional
        With ``None`` the model takes the chapter's dense input ``(maxlen, embedding_dims)``.
        Given a matrix (row 0 = zero padding vector), the model takes ``(maxlen,)`` int32 token
        ids and looks them up in a frozen ``Embedding`` holding it: the same network input.
        Given a layer from :func:`frozen_embedding`, the model uses that layer, so that many
        models can share one copy of a large matrix.
    depth : int
        Number of stacked recurrent layers, each returning its full sequence.
    dropout : float
        Rate of the ``Dropout`` layer after the last recurrent layer.
    optimizer : str
        Any Keras optimizer name.
    """
    if arch not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHITECTURES)}")
    for name, value in (("units", units), ("maxlen", maxlen), ("depth", depth)):
        if not isinstance(value, int | np.integer) or value <= 0:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must lie in [0, 1), got {dropout}")
    if embeddings is None:
        stack = [keras.Input((maxlen, embedding_dims))]
    elif isinstance(embeddings, layers.Embedding):
        # A fresh Embedding draws its initializer's seed from Python's random when it is made;
        # draw it here too, so that a model's numbers do not depend on sharing the layer.
        keras.initializers.get("uniform")
        stack = [keras.Input((maxlen,), dtype="int32"), embeddings]
    else:
        stack = [keras.Input((maxlen,), dtype="int32"), frozen_embedding(embeddings)]
    stack += [recurrent_layer(arch, units) for _ in range(depth)]
    stack += [layers.Dropout(dropout), layers.Flatten(), layers.Dense(1, activation="sigmoid")]
    model = keras.Sequential(stack, name=f"{arch}_{units}")
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return model
