"""Run a trained word-level LSTM over one review and record its gates token by token.

This is what ``nlpia-lstm inspect MODEL "review text"`` does. The model is one that
``nlpia-lstm grid CONFIG --save-models DIR`` saved: ``DIR/<stem>.keras`` with its sidecar
``DIR/<stem>.json`` (:mod:`nlpia_lstm.saving`), whose word ``i`` is embedding row ``i + 1``
(row 0 is padding). The review becomes token ids exactly as in training
(:mod:`nlpia_lstm.tokens`), the embedding rows are looked up in NumPy, and
:func:`nlpia_lstm.gates.reference.trace` runs the LSTM's
equations over them, keeping every gate. Only the positions of real tokens are reported; the
padding after them still feeds the classifier's ``Flatten`` layer, so it counts towards the
prediction, which comes from Keras itself.

Outputs (see :func:`write_csv` and :func:`plot_gates`): a long-format CSV with one row per
(token, unit), and a PNG heatmap with four panels (forget, input, output gates, cell state).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..saving import load_model, read_sidecar
from ..tokens import ids_matrix, tokenize_corpus
from .reference import trace

__all__ = ["CSV_COLUMNS", "ReviewTrace", "inspect_review", "write_csv", "plot_gates"]

CSV_COLUMNS = ["position", "token", "unit", "forget", "input", "candidate", "output", "cell", "h"]
_CSV_GATES = {"forget": "forget", "input": "input", "candidate": "candidate", "output": "output",
              "cell": "c", "h": "h"}


@dataclass
class ReviewTrace:
    """The gates of one LSTM layer over the real tokens of one review.

    Attributes
    ----------
    model_name : str
        The model file's stem.
    tokens : list of str
        The tokens the model read, in order (unknown tokens dropped, cut at ``maxlen``).
    gates : dict of str to ndarray
        ``"forget"``, ``"input"``, ``"candidate"``, ``"output"``, ``"c"`` and ``"h"``, each of
        shape ``(len(tokens), units)``.
    probability : float
        The model's prediction for the review: probability that it is positive.
    n_tokens, n_unknown, n_cut : int
        Tokens in the text, tokens without a word vector, and known tokens past ``maxlen``.
    maxlen : int
        Length of the model's input.
    max_abs_diff : float
        Largest difference between the reference's ``h`` and the Keras layer's output,
        over every position including padding: a check that the gates are the model's own.
    """

    model_name: str
    tokens: list[str]
    gates: dict[str, np.ndarray]
    probability: float
    n_tokens: int
    n_unknown: int
    n_cut: int
    maxlen: int
    max_abs_diff: float

    @property
    def units(self) -> int:
        """Number of units of the traced layer."""
        return self.gates["h"].shape[1]


def _words(model_path: Path) -> list[str]:
    """The model's word list, from its sidecar: word ``i`` is embedding row ``i + 1``."""
    meta = read_sidecar(model_path, "classifier")
    if meta.get("level") != "word" or not isinstance(meta.get("words"), list):
        raise ConfigError(f"{model_path.name} is not a word-level model: inspect reads the "
                          "grid's word-level LSTM models")
    return meta["words"]


def _class_names(layer) -> list[str]:
    return [cls.__name__ for cls in type(layer).__mro__]


def _find_layers(model, path: Path, layer_index: int):
    """The model's Embedding and the LSTM stack up to the ``layer_index``-th LSTM (1-based)."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    kinds = [type(layer).__name__ for layer in layers]
    found = ", ".join(kinds) or "none"
    if not layers or "Embedding" not in _class_names(layers[0]):
        raise ConfigError(f"{path.name} does not start with an Embedding layer (layers: {found}); "
                          "inspect reads word-level models saved by 'grid --save-models'")
    stack = []
    for layer in layers[1:]:
        names = _class_names(layer)
        if "LSTM" not in names:
            break
        stack.append(layer)
        if len(stack) == layer_index:
            return layers[0], stack
    if any("Bidirectional" in _class_names(layer)
           and "LSTM" in _class_names(layer.forward_layer) for layer in layers):
        raise ConfigError(f"{path.name} has a Bidirectional LSTM (layers: {found}); inspect "
                          "reads models with a plain LSTM (arch 'lstm')")
    if not stack:
        raise ConfigError(f"{path.name} has no LSTM layer after its embedding (layers: {found}); "
                          "inspect reads the grid's 'lstm' models")
    raise ConfigError(f"{path.name} has {len(stack)} stacked LSTM layer(s), not {layer_index}")


def _tokenize(text: str, key_to_row: dict[str, int]):
    """The review as a one-document corpus, after checking that it has a known word."""
    corpus = tokenize_corpus([(0, text)], n_jobs=1)
    tokens = corpus.tokens(0)
    if not any(t in key_to_row for t in tokens):
        raise DataError(f"none of the review's {len(tokens)} tokens has a word vector in this "
                        "model's vocabulary")
    return corpus


def inspect_review(
    model_path: str | os.PathLike,
    text: str,
    *,
    layer: int = 1,
) -> ReviewTrace:
    """Run a grid model over one review and trace the gates of one of its LSTM layers.

    Parameters
    ----------
    model_path : path-like
        A ``.keras`` model saved by ``grid --save-models``: ``Embedding`` then ``LSTM``.
    text : str
        The review, raw; it is tokenized as in training.
    layer : int
        Which LSTM to trace, counting from 1, for models with stacked LSTMs.

    Returns
    -------
    ReviewTrace

    Raises
    ------
    DataError
        Missing or unreadable model or word list, a word list that does not fit the embedding,
        empty text, or text without any known word.
    ConfigError
        A model without an embedding followed by (enough) LSTM layers, or ``layer < 1``.
    """
    model_path = Path(model_path)
    if not text.strip():
        raise DataError("the review text is empty")
    if layer < 1:
        raise ConfigError(f"--layer counts LSTM layers from 1, got {layer}")
    words = _words(model_path)
    key_to_row = {word: i + 1 for i, word in enumerate(words)}
    corpus = _tokenize(text, key_to_row)
    model, _ = load_model(model_path, "classifier", compile=False)
    embedding, lstms = _find_layers(model, model_path, layer)
    import keras

    matrix = keras.ops.convert_to_numpy(embedding.embeddings).astype(np.float32)
    if matrix.shape[0] != len(words) + 1:
        raise DataError(f"the word list has {len(words)} words but the model's embedding has "
                        f"{matrix.shape[0]} rows (expected words + 1 for padding): is it the "
                        "list saved with this model?")
    tokens = corpus.tokens(0)
    known = [t for t in tokens if t in key_to_row]
    maxlen = model.input_shape[1] or len(known)
    ids = ids_matrix(corpus, key_to_row, maxlen)[0]
    kept = known[:maxlen]
    batch = ids[None, :]
    probability = float(keras.ops.convert_to_numpy(model(batch, training=False)).ravel()[0])
    x = matrix[ids][None]
    keras_x = embedding(batch)
    for lstm in lstms:
        gates = trace(lstm, x)
        keras_x = lstm(keras_x, training=False)
        x = gates["h"]
    last_h = x if lstms[-1].return_sequences else x[:, -1]
    diff = float(np.abs(last_h - keras.ops.convert_to_numpy(keras_x)).max())
    if lstms[-1].go_backwards:
        # The layer's steps run from the last token to the first: put them in reading order.
        gates = {k: v[:, ::-1] for k, v in gates.items()}
    n = len(kept)
    return ReviewTrace(model_path.stem, kept, {k: v[0, :n] for k, v in gates.items()},
                       probability, len(tokens), len(tokens) - len(known), len(known) - n,
                       maxlen, diff)


def _unit_count(result: ReviewTrace, units: int | None) -> int:
    if units is None:
        return result.units
    if units < 1:
        raise ConfigError(f"--units must be at least 1, got {units}")
    return min(units, result.units)


def write_csv(result: ReviewTrace, path: str | os.PathLike, units: int | None = None) -> Path:
    """Write the gates as a long-format CSV: one row per token and unit.

    Columns are :data:`CSV_COLUMNS`: ``position`` (0-based index of the token in the model's
    input), ``token``, ``unit`` (0-based), then ``forget``, ``input``, ``candidate``,
    ``output``, ``cell`` (the memory ``c`` after the token) and ``h`` (the layer's output).
    ``units`` keeps only the first ``units`` units.
    """
    path = Path(path)
    n_units = _unit_count(result, units)
    columns = [result.gates[_CSV_GATES[c]][:, :n_units] for c in CSV_COLUMNS[3:]]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for pos, token in enumerate(result.tokens):
            for unit in range(n_units):
                writer.writerow([pos, token, unit] + [f"{col[pos, unit]:.6g}" for col in columns])
    return path


def plot_gates(result: ReviewTrace, path: str | os.PathLike, units: int | None = None) -> Path:
    """Draw the forget, input and output gates and the cell state as four heatmaps.

    Tokens run down the vertical axis in reading order, units along the horizontal one. Gates
    share a 0-1 colour scale; the cell state has a diverging scale centred on 0.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    n_units = _unit_count(result, units)
    n = len(result.tokens)
    # Past a few hundred rows the labels cannot all be read, so label every k-th token.
    step = max(1, math.ceil(n / 250))
    height = 2.2 + 0.14 * min(n, 250)
    width_each = 1.2 + 0.08 * n_units
    panels = [("forget gate f (kept)", "forget"), ("input gate i (added)", "input"),
              ("output gate o (shown)", "output"), ("cell state c (memory)", "c")]
    fig, axes = plt.subplots(1, 4, figsize=(4 * width_each + 1.2, height), sharey=True,
                             layout="constrained", dpi=100)
    # 64 levels per map leave room in the 256-colour palette the figure is saved with.
    sequential = matplotlib.colormaps["viridis"].resampled(64)
    diverging = matplotlib.colormaps["RdBu_r"].resampled(64)
    c_max = float(np.abs(result.gates["c"][:, :n_units]).max()) or 1.0
    for ax, (title, key) in zip(axes, panels, strict=True):
        values = result.gates[key][:, :n_units]
        if key == "c":
            image = ax.imshow(values, aspect="auto", cmap=diverging, vmin=-c_max, vmax=c_max,
                              interpolation="nearest")
        else:
            image = ax.imshow(values, aspect="auto", cmap=sequential, vmin=0.0, vmax=1.0,
                              interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("unit", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        fig.colorbar(image, ax=ax, location="bottom", shrink=0.8, pad=0.01)
    axes[0].set_yticks(range(0, n, step))
    axes[0].set_yticklabels(result.tokens[::step], fontsize=7)
    axes[0].set_ylabel("token, in reading order", fontsize=8)
    shown = f"first {n_units} of {result.units} units" if n_units < result.units else (
        f"{result.units} units")
    fig.suptitle(f"{result.model_name}: P(positive) = {result.probability:.3f}; "
                 f"{n} tokens, {shown}", fontsize=10)
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    plt.close(fig)
    # Heatmaps of noisy gates compress badly as true colour; a palette keeps a long review's
    # figure small enough to commit.
    _save_palette_png(image, path, [sequential, diverging])
    return path


def _save_palette_png(rgb: np.ndarray, path: Path, colormaps) -> None:
    """Save an RGB image as a PNG whose palette holds every colormap level and 128 greys.

    Each heatmap cell is then stored exactly; text and lines map to the nearest grey.
    """
    from PIL import Image

    levels = [np.asarray(cmap(np.arange(cmap.N)))[:, :3] for cmap in colormaps]
    greys = np.repeat(np.linspace(0.0, 1.0, 256 - sum(len(c) for c in levels))[:, None], 3, 1)
    colours = np.round(np.vstack(levels + [greys]) * 255).astype(np.uint8)
    palette = Image.new("P", (1, 1))
    palette.putpalette(colours.ravel().tolist())
    image = Image.fromarray(rgb).quantize(palette=palette, dither=Image.Dither.NONE)
    image.save(path, optimize=True)
