"""Character-level text generation: the chapter's Shakespeare LSTM, trained and sampled.

The chapter (NLP in Action, ch. 9) joins the three Shakespeare plays of NLTK's Gutenberg corpus,
lower-cased, cuts the text into 40-character windows every 3 characters and trains::

    LSTM(128) -> Dense(n_chars, softmax)    # RMSprop(learning_rate=0.01), categorical cross-entropy

to predict the character after each window. It then writes 400 characters after a seed text,
drawing each next character from the softmax output sharpened or flattened by a temperature
("diversity") of 0.2, 0.5 or 1.0.

Here each window is a row of character ids (4 bytes per character instead of a one-hot row of
about 50 floats), which a frozen identity ``Embedding`` turns into the chapter's one-hot input,
and the targets are ids for ``sparse_categorical_crossentropy``: the same loss as one-hot
targets with ``categorical_crossentropy``. Sampling draws from a seeded NumPy ``Generator``, so
the same model, seed text and seed give the same text.

Keras is imported by the functions that need it, so importing this module stays light.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import ConfigError, DataError
from .saving import load_model, read_sidecar, save_model, sidecar_path

__all__ = [
    "SHAKESPEARE",
    "TEMPERATURES",
    "load_gutenberg",
    "char_windows",
    "build_generator",
    "train_generator",
    "save_generator",
    "load_generator",
    "sample",
    "generate",
    "write_loss_csv",
    "samples_markdown",
    "run_generator",
]

log = logging.getLogger(__name__)

# The chapter reads every Gutenberg file id with "shakespeare" in it, in NLTK's (sorted) order.
SHAKESPEARE = ("shakespeare-caesar.txt", "shakespeare-hamlet.txt", "shakespeare-macbeth.txt")
TEMPERATURES = (0.2, 0.5, 1.0)
_DOWNLOAD_HINT = ("install it with python -c 'import nltk; nltk.download(\"gutenberg\")', or "
                  "point NLTK_DATA (or --nltk-data) at the folder that holds corpora/gutenberg")


def load_gutenberg(
    fileids: Sequence[str] = SHAKESPEARE, nltk_data: str | os.PathLike | None = None,
    *, lower: bool = True,
) -> str:
    """Return the raw texts of ``fileids`` from NLTK's Gutenberg corpus, joined (lower-cased).

    Parameters
    ----------
    fileids : sequence of str
        Gutenberg file names; the chapter's three Shakespeare plays by default.
    nltk_data : path-like, optional
        A folder holding ``corpora/gutenberg`` (or ``corpora/gutenberg.zip``); by default
        NLTK's own search path (``NLTK_DATA``, ``~/nltk_data``, ...). The folder is added to
        ``nltk.data.path``: NLTK reads data files only from folders listed there.
    lower : bool
        Lower-case the text, as the chapter does.
    """
    import nltk

    if not fileids:
        raise DataError("no Gutenberg file ids given")
    paths = None
    if nltk_data is not None:
        if not Path(nltk_data).is_dir():
            raise DataError(f"no folder at {nltk_data}: NLTK's Gutenberg corpus is missing; "
                            + _DOWNLOAD_HINT)
        paths = [str(Path(nltk_data).resolve())]
        if paths[0] not in nltk.data.path:
            nltk.data.path.insert(0, paths[0])
    texts = []
    for fileid in fileids:
        try:
            pointer = nltk.data.find(f"corpora/gutenberg/{fileid}", paths=paths)
        except LookupError:
            raise DataError(f"NLTK's Gutenberg corpus (corpora/gutenberg/{fileid}) is not "
                            "installed; " + _DOWNLOAD_HINT) from None
        with pointer.open() as f:
            # NLTK's gutenberg reader decodes these files as Latin-1; so does this.
            texts.append(f.read().decode("latin-1"))
    text = "".join(texts)
    return text.lower() if lower else text


def char_windows(
    text: str, chars: Sequence[str], maxlen: int = 40, step: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``text`` into windows of ``maxlen`` character ids every ``step`` characters.

    Returns ``x`` of shape ``(n, maxlen)`` and ``y`` of shape ``(n,)``, int32, where ``y[i]``
    is the id of the character after window ``i`` and a character's id is its index in
    ``chars``: the chapter's ``sentences``/``next_chars`` loop as ids.
    """
    for name, value in (("maxlen", maxlen), ("step", step)):
        if not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if len(text) <= maxlen:
        raise DataError(f"the text has {len(text)} characters: it needs more than maxlen="
                        f"{maxlen} to make one window")
    index = {c: i for i, c in enumerate(chars)}
    missing = set(text) - set(index)
    if missing:
        raise DataError(f"characters not in the vocabulary: {''.join(sorted(missing))!r}")
    ids = np.fromiter((index[c] for c in text), dtype=np.int32, count=len(text))
    starts = np.arange(0, len(text) - maxlen, step)
    return ids[starts[:, None] + np.arange(maxlen)], ids[starts + maxlen]


def build_generator(n_chars: int, units: int = 128, learning_rate: float = 0.01):
    """Build and compile the chapter's character model: one-hot -> LSTM(units) -> softmax.

    The input is a window of character ids of any length; a frozen ``Embedding`` holding the
    identity matrix makes each id the chapter's one-hot vector.
    """
    import keras
    from keras import layers

    for name, value in (("n_chars", n_chars), ("units", units)):
        if not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if not learning_rate > 0:
        raise ConfigError(f"learning_rate must be positive, got {learning_rate!r}")
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        layers.Embedding(n_chars, n_chars, embeddings_initializer="identity", trainable=False,
                         name="one_hot"),
        layers.LSTM(units),
        layers.Dense(n_chars, activation="softmax"),
    ], name=f"char_lstm_{units}")
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy")
    return model


def train_generator(
    text: str,
    *,
    epochs: int = 1,
    batch_size: int = 128,
    maxlen: int = 40,
    step: int = 3,
    units: int = 128,
    learning_rate: float = 0.01,
    seed: int = 0,
    verbose: int | str = "auto",
):
    """Train the chapter's character model on ``text``.

    Returns
    -------
    model : keras.Model
        The trained model.
    chars : list of str
        Its vocabulary: ``sorted(set(text))``, as in the chapter; id ``i`` is ``chars[i]``.
    history : list of dict
        Per epoch: ``epoch``, ``loss`` and ``seconds`` (wall time of the epoch).
    """
    import keras

    if not isinstance(epochs, int) or epochs <= 0:
        raise ConfigError(f"epochs must be a positive integer, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    chars = sorted(set(text))
    x, y = char_windows(text, chars, maxlen, step)
    keras.utils.set_random_seed(seed)
    model = build_generator(len(chars), units, learning_rate)

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            history.append({"epoch": epoch + 1, "loss": round(float(logs["loss"]), 6),
                            "seconds": round(time.perf_counter() - self.started, 1)})

    history: list[dict] = []
    model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=verbose,
              callbacks=[EpochTimer()])
    return model, chars, history


def save_generator(model, chars: Sequence[str], path: str | os.PathLike, maxlen: int = 40,
                   lower: bool = True) -> Path:
    """Save a model as ``.keras`` with its vocabulary in the JSON sidecar.

    The sidecar holds ``chars`` (id ``i`` is ``chars[i]``), the window length ``maxlen`` and
    whether the training text was lower-cased (see :mod:`nlpia_lstm.saving`). Returns the
    model's path.
    """
    return save_model(model, path, "generator", chars=list(chars), maxlen=maxlen, lower=lower)


def load_generator(path: str | os.PathLike):
    """Load a model saved by :func:`save_generator`: return ``(model, chars, maxlen, lower)``."""
    meta = read_sidecar(path, "generator")
    try:
        chars, maxlen, lower = list(meta["chars"]), int(meta["maxlen"]), bool(meta["lower"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{sidecar_path(path)}: not a generator's settings ({exc})") from exc
    model, _ = load_model(path, "generator")
    if model.output_shape[-1] != len(chars):
        raise DataError(f"{path} predicts {model.output_shape[-1]} characters but "
                        f"{sidecar_path(path)} lists {len(chars)}")
    return model, chars, maxlen, lower


def sample(preds: np.ndarray, temperature: float = 1.0,
           rng: np.random.Generator | None = None) -> int:
    """Draw an index from the probabilities ``preds`` reweighted by ``temperature``.

    The chapter's ``sample``: ``p ** (1 / temperature)``, normalized, then one draw. Low
    temperatures pick the likeliest characters (towards the argmax as it nears 0), high ones
    flatten the distribution. Computed in log space, so tiny temperatures do not overflow.
    """
    if not temperature > 0:
        raise ConfigError(f"temperature must be positive, got {temperature!r}")
    rng = rng if rng is not None else np.random.default_rng()
    with np.errstate(divide="ignore"):
        logits = np.log(np.asarray(preds, dtype=np.float64)) / temperature
    weights = np.exp(logits - logits.max())
    return int(rng.choice(len(weights), p=weights / weights.sum()))


def generate(
    model,
    chars: Sequence[str],
    seed_text: str,
    *,
    length: int = 400,
    temperature: float = 0.5,
    seed: int | None = 0,
    maxlen: int = 40,
    lower: bool = True,
) -> str:
    """Write ``length`` characters after ``seed_text`` and return them (without the seed).

    Each step reads the last ``maxlen`` characters written so far (the seed's first, all of
    it when shorter) and draws the next one with :func:`sample`. ``seed`` seeds the draws.
    """
    if not isinstance(seed_text, str) or not seed_text:
        raise DataError("the seed text is empty: give a few characters to start from")
    if not isinstance(length, int) or length < 0:
        raise ConfigError(f"length must be a non-negative integer, got {length!r}")
    if not temperature > 0:
        raise ConfigError(f"temperature must be positive, got {temperature!r}")
    seed_text = seed_text.lower() if lower else seed_text
    index = {c: i for i, c in enumerate(chars)}
    missing = set(seed_text) - set(index)
    if missing:
        raise DataError(f"the seed text has characters the model never saw: "
                        f"{''.join(sorted(missing))!r}")
    rng = np.random.default_rng(seed)
    window = [index[c] for c in seed_text[-maxlen:]]
    out = []
    for _ in range(length):
        preds = model.predict_on_batch(np.asarray([window], dtype=np.int32))[0]
        next_id = sample(preds, temperature, rng)
        out.append(chars[next_id])
        window = (window + [next_id])[-maxlen:]
    return "".join(out)


def write_loss_csv(history: Sequence[dict], path: str | os.PathLike, **settings) -> Path:
    """Write one CSV row per epoch: ``epoch``, ``loss``, ``seconds``, then ``settings``."""
    import csv

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["epoch", "loss", "seconds", *settings])
        writer.writeheader()
        for row in history:
            writer.writerow({**row, **settings})
    return path


def samples_markdown(
    model,
    chars: Sequence[str],
    seed_text: str,
    *,
    temperatures: Sequence[float] = TEMPERATURES,
    length: int = 400,
    seed: int = 0,
    maxlen: int = 40,
    title: str = "Generated text",
    notes: Sequence[str] = (),
) -> str:
    """Generate from one seed text at each temperature and lay the texts out as Markdown."""
    lines = [f"# {title}", "", *notes, "" if notes else None,
             f"Seed text ({len(seed_text)} characters), then {length} generated characters "
             f"per temperature, sampler seed {seed}:", ""]
    for temperature in temperatures:
        text = generate(model, chars, seed_text, length=length, temperature=temperature,
                        seed=seed, maxlen=maxlen)
        lines += [f"## temperature {temperature}", "", "```text", seed_text + text, "```", ""]
    return "\n".join(line for line in lines if line is not None)


def run_generator(
    out: str | os.PathLike,
    *,
    max_chars: int | None = None,
    nltk_data: str | os.PathLike | None = None,
    loss_csv: str | os.PathLike | None = None,
    samples: str | os.PathLike | None = None,
    sample_length: int = 400,
    **training,
) -> dict[str, Path]:
    """Train the chapter's Shakespeare generator and write the model, its losses and samples.

    Reads the chapter's three plays (:func:`load_gutenberg`, the first ``max_chars``
    characters if given), trains (:func:`train_generator` with the keyword arguments
    ``training``: ``epochs``, ``batch_size``, ``maxlen``, ``step``, ``units``,
    ``learning_rate``, ``seed``, ``verbose``), saves the model to ``out``
    (:func:`save_generator`), and optionally writes the loss per epoch with the run's settings
    to ``loss_csv`` and texts generated at 0.2, 0.5 and 1.0 to ``samples`` (Markdown). As in
    the chapter, the samples' seed text is a window of the training text at a random start.
    Returns the paths written, by name (``model``, ``loss_csv``, ``samples``).
    """
    if Path(out).suffix != ".keras":
        raise ConfigError(f"the model file must end in .keras, got {out}")
    text = load_gutenberg(nltk_data=nltk_data)
    corpus_chars = len(text)
    text = text[:max_chars] if max_chars else text
    # The settings train_generator runs with, its defaults included: the loss CSV records them.
    call = inspect.signature(train_generator).bind(text, **training)
    call.apply_defaults()
    s = call.arguments
    log.info("training on %s of %s characters of Shakespeare (%d epochs)", f"{len(text):,}",
             f"{corpus_chars:,}", s["epochs"])
    model, chars, history = train_generator(*call.args, **call.kwargs)
    maxlen = s["maxlen"]
    written = {"model": save_generator(model, chars, out, maxlen=maxlen)}
    if loss_csv:
        import keras

        settings = {
            "corpus_chars": len(text), "n_sequences": len(range(0, len(text) - maxlen, s["step"])),
            "n_chars": len(chars), **{k: s[k] for k in ("maxlen", "step", "batch_size", "units",
                                                        "learning_rate", "seed")},
            "keras_version": keras.__version__, "backend": keras.backend.backend(),
        }
        written["loss_csv"] = write_loss_csv(history, loss_csv, **settings)
    if samples:
        seed = s["seed"]
        start = int(np.random.default_rng(seed).integers(0, len(text) - maxlen))
        notes = [f"Model: LSTM({s['units']}) on {len(text):,} characters of Shakespeare, "
                 f"{s['epochs']} epochs, final loss {history[-1]['loss']:.4f}."]
        md = samples_markdown(model, chars, text[start : start + maxlen], seed=seed,
                              length=sample_length, maxlen=maxlen, title="Shakespeare samples",
                              notes=notes)
        samples = Path(samples)
        samples.parent.mkdir(parents=True, exist_ok=True)
        samples.write_text(md, encoding="utf-8")
        written["samples"] = samples
    return written
