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

:func:`run_generator` trains as the chapter does, in rounds (its 30 epochs as 5 calls of
``fit(..., epochs=6)``), and saves the model after every round, with a record of the run in its
JSON sidecar: the settings, the epochs done, the loss per epoch and the samples written so far.
Run again with the same settings, it loads that model (its optimizer state included) and goes on
with the next round; each round is reseeded with ``seed + round index``, so an interrupted run
resumed ends with the same weights, losses and samples as one that ran through.

Keras is imported by the functions that need it, so importing this module stays light.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .errors import ConfigError, DataError
from .saving import load_model, read_sidecar, save_model, sidecar_path

__all__ = [
    "SHAKESPEARE",
    "TEMPERATURES",
    "CHAPTER_EPOCHS",
    "CHAPTER_ROUND_EPOCHS",
    "load_gutenberg",
    "char_windows",
    "build_generator",
    "round_ends",
    "sample_epochs",
    "fit_round",
    "train_generator",
    "save_generator",
    "load_generator",
    "sample",
    "generate",
    "sample_texts",
    "write_loss_csv",
    "samples_markdown",
    "run_generator",
]

log = logging.getLogger(__name__)

# The chapter reads every Gutenberg file id with "shakespeare" in it, in NLTK's (sorted) order.
SHAKESPEARE = ("shakespeare-caesar.txt", "shakespeare-hamlet.txt", "shakespeare-macbeth.txt")
TEMPERATURES = (0.2, 0.5, 1.0)
# The chapter's schedule: 30 epochs, as 5 rounds of model.fit(..., epochs=6).
CHAPTER_EPOCHS = 30
CHAPTER_ROUND_EPOCHS = 6
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


def _check_count(name: str, value: object) -> None:
    """Refuse anything but a positive integer (``bool`` included) as ``name``."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def round_ends(epochs: int, round_epochs: int) -> list[int]:
    """The epochs after which a run of ``epochs`` in rounds of ``round_epochs`` ends a round.

    Every ``round_epochs``-th epoch and the last: ``round_ends(30, 6)`` is the chapter's
    ``[6, 12, 18, 24, 30]``; when ``round_epochs`` does not divide ``epochs`` the last round is
    shorter (``round_ends(8, 6) == [6, 8]``).
    """
    _check_count("epochs", epochs)
    _check_count("round_epochs", round_epochs)
    return [*range(round_epochs, epochs, round_epochs), epochs]


def _listed(epochs: Sequence[int]) -> str:
    """``6, 12, 18`` for a few epochs, ``6, 12, ..., 300`` for many."""
    shown = epochs if len(epochs) <= 8 else [*epochs[:2], "...", epochs[-1]]
    return ", ".join(map(str, shown))


def sample_epochs(sample_at: Iterable[int] | None, epochs: int, round_epochs: int) -> list[int]:
    """The epochs to write samples after, sorted; each must end a round (:func:`round_ends`).

    ``None`` means the end of the first round and the last epoch: the chapter's 6 and 30.

    Raises
    ------
    ConfigError
        An epoch is not a positive integer, is past ``epochs`` or does not end a round (samples
        are written as a round ends: they are refused, not moved to the nearest round's end),
        or ``sample_at`` is empty.
    """
    ends = round_ends(epochs, round_epochs)
    if sample_at is None:
        return sorted({ends[0], ends[-1]})
    chosen = list(sample_at)
    if not chosen:
        raise ConfigError("no epochs to sample after: give at least one")
    for epoch in chosen:
        _check_count("a sample epoch", epoch)
        if epoch not in ends:
            past = f"past the last epoch, {epochs}" if epoch > epochs else "not a round's end"
            raise ConfigError(f"cannot sample after epoch {epoch}: it is {past}; samples are "
                              f"written as a round ends, and {epochs} epochs in rounds of "
                              f"{round_epochs} end after epochs {_listed(ends)}")
    return sorted(set(chosen))


def fit_round(
    model, x: np.ndarray, y: np.ndarray, *, start: int, stop: int, round_index: int,
    seed: int, batch_size: int, verbose: int | str = "auto",
) -> list[dict]:
    """Train ``model`` from epoch ``start`` to ``stop`` (Keras's ``initial_epoch``/``epochs``).

    The round is seeded with ``seed + round_index`` (:func:`nlpia_lstm.training.seeded`), so
    its shuffling depends on the seed and the round alone, not on what ran before it in the
    process: a model saved after a round and loaded again, in this process or another, goes on
    exactly as one kept in memory.

    Returns
    -------
    list of dict
        Per epoch: ``epoch`` (from 1), ``round`` (``round_index + 1``), ``loss``, ``seconds``
        (its wall time), ``keras_version`` and ``backend``.
    """
    import keras

    from .training import EpochTimer, seeded

    timer = EpochTimer()
    with seeded(seed + round_index):
        losses = model.fit(x, y, batch_size=batch_size, initial_epoch=start, epochs=stop,
                           shuffle=True, verbose=verbose, callbacks=[timer]).history["loss"]
    where = {"keras_version": keras.__version__, "backend": keras.backend.backend()}
    return [{"epoch": start + i + 1, "round": round_index + 1, "loss": round(float(loss), 6),
             "seconds": round(seconds, 1), **where}
            for i, (loss, seconds) in enumerate(zip(losses, timer.seconds, strict=True))]


def train_generator(
    text: str,
    *,
    epochs: int = 1,
    round_epochs: int | None = None,
    batch_size: int = 128,
    maxlen: int = 40,
    step: int = 3,
    units: int = 128,
    learning_rate: float = 0.01,
    seed: int = 0,
    verbose: int | str = "auto",
):
    """Train the chapter's character model on ``text``, in memory (see :func:`run_generator`).

    The model is built with ``seed`` and trained in rounds of ``round_epochs`` epochs (one
    round of ``epochs`` by default), each a :func:`fit_round`: the same rounds with the same
    settings give :func:`run_generator` the same weights.

    Returns
    -------
    model : keras.Model
        The trained model.
    chars : list of str
        Its vocabulary: ``sorted(set(text))``, as in the chapter; id ``i`` is ``chars[i]``.
    history : list of dict
        Per epoch: ``epoch``, ``round``, ``loss``, ``seconds`` (wall time of the epoch),
        ``keras_version`` and ``backend``.
    """
    from .training import seeded

    _check_count("batch_size", batch_size)
    ends = round_ends(epochs, epochs if round_epochs is None else round_epochs)
    chars = sorted(set(text))
    x, y = char_windows(text, chars, maxlen, step)
    with seeded(seed):
        model = build_generator(len(chars), units, learning_rate)
    history: list[dict] = []
    for start, stop in zip([0, *ends[:-1]], ends, strict=True):
        history += fit_round(model, x, y, start=start, stop=stop,
                             round_index=start // (round_epochs or epochs), seed=seed,
                             batch_size=batch_size, verbose=verbose)
    return model, chars, history


def save_generator(model, chars: Sequence[str], path: str | os.PathLike, maxlen: int = 40,
                   lower: bool = True, *, training: dict | None = None) -> Path:
    """Save a model as ``.keras`` with its vocabulary in the JSON sidecar.

    The sidecar holds ``chars`` (id ``i`` is ``chars[i]``), the window length ``maxlen`` and
    whether the training text was lower-cased (see :mod:`nlpia_lstm.saving`), and, when given,
    ``training``: :func:`run_generator`'s record of the run, which lets it resume. Returns the
    model's path.
    """
    extra = {} if training is None else {"training": training}
    return save_model(model, path, "generator", chars=list(chars), maxlen=maxlen, lower=lower,
                      **extra)


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


def sample_texts(
    model,
    chars: Sequence[str],
    seed_text: str,
    *,
    temperatures: Sequence[float] = TEMPERATURES,
    length: int = 400,
    seed: int = 0,
    maxlen: int = 40,
) -> list[dict]:
    """Generate from one seed text at each temperature: ``[{"temperature", "text"}, ...]``.

    Each text is :func:`generate`'s, with the sampler seeded by ``seed``, without the seed text.
    """
    return [{"temperature": temperature,
             "text": generate(model, chars, seed_text, length=length, temperature=temperature,
                              seed=seed, maxlen=maxlen)}
            for temperature in temperatures]


def _write_atomically(path: Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then move it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_loss_csv(history: Sequence[dict], path: str | os.PathLike, **settings) -> Path:
    """Write one CSV row per epoch: the keys of ``history``'s rows, then ``settings``.

    The file is written whole, to a temporary file first, then moved over ``path``: a reader
    never sees it half written.
    """
    fields = list(dict.fromkeys(key for row in history for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*(fields or ["epoch", "loss", "seconds"]),
                                                *settings])
    writer.writeheader()
    for row in history:
        writer.writerow({**row, **settings})
    return _write_atomically(Path(path), buffer.getvalue())


def samples_markdown(
    sections: Sequence[dict], *, title: str = "Generated text", notes: Sequence[str] = (),
) -> str:
    """Lay samples out as Markdown, one section per epoch (``## after epoch N``).

    Each of ``sections`` holds ``epoch``, ``loss`` (that epoch's), ``seed_text``, ``seed`` (the
    sampler's), ``length`` and ``texts`` (:func:`sample_texts`); one ``### temperature T``
    block per text shows the seed text and what followed it.
    """
    lines = [f"# {title}", ""]
    if notes:
        lines += [*notes, ""]
    for section in sorted(sections, key=lambda s: s["epoch"]):
        lines += [f"## after epoch {section['epoch']}", "",
                  f"Loss {section['loss']:.4f}. Seed text ({len(section['seed_text'])} "
                  f"characters), then {section['length']} generated characters per "
                  f"temperature, sampler seed {section['seed']}:", ""]
        for item in section["texts"]:
            lines += [f"### temperature {item['temperature']}", "", "```text",
                      section["seed_text"] + item["text"], "```", ""]
    return "\n".join(lines)


# The settings a resumed run must share with the run saved at its output.
_RUN_SETTINGS = ("units", "maxlen", "step", "learning_rate", "batch_size", "seed",
                 "round_epochs")
_RECORD_KEYS = ("settings", "epochs_done", "history", "samples")


def _saved_record(out: Path, settings: dict, epochs: int) -> dict:
    """The training record in the sidecar of the run saved at ``out``, checked against ours.

    Raises
    ------
    DataError
        The model or its sidecar is missing, corrupt or not a generator's.
    ConfigError
        The sidecar has no training record, the saved run's settings differ from
        ``settings``, or it has trained more than ``epochs`` epochs.
    """
    start_over = (f"delete {out.name} and {sidecar_path(out).name} or choose another output "
                  "to start over")
    try:
        meta = read_sidecar(out, "generator")
    except DataError as exc:
        raise DataError(f"{exc}; a run cannot resume from it: {start_over}") from exc
    record = meta.get("training")
    if not (isinstance(record, dict) and all(key in record for key in _RECORD_KEYS)
            and isinstance(record["settings"], dict)):
        raise ConfigError(f"{out} holds a generator without a record of its training (saved "
                          f"by save_generator or an earlier version), so a run cannot resume "
                          f"it: {start_over}")
    saved = record["settings"]
    differ = [f"{key} {saved.get(key)!r} there, {settings[key]!r} here"
              for key in _RUN_SETTINGS if saved.get(key) != settings[key]]
    if differ:
        raise ConfigError(f"{out} was trained with other settings ({'; '.join(differ)}): give "
                          f"the saved run's settings to resume it, or {start_over}")
    if record["epochs_done"] > epochs:
        raise ConfigError(f"{out} has trained {record['epochs_done']} epochs already, more than "
                          f"the {epochs} asked for: ask for {record['epochs_done']} or more to "
                          f"keep it, or {start_over}")
    return record


def _load_run(out: Path, record: dict, n_chars: int, steps_per_epoch: int):
    """Load the model saved at ``out``; check that it took the steps its record says."""
    import keras

    model, _ = load_model(out, "generator")
    if model.output_shape[-1] != n_chars:
        raise DataError(f"{out} predicts {model.output_shape[-1]} characters but the text has "
                        f"{n_chars}")
    steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    expected = record["epochs_done"] * steps_per_epoch
    if steps != expected:
        raise DataError(f"{out} has taken {steps} optimizer steps, but {sidecar_path(out).name} "
                        f"records {record['epochs_done']} epochs ({expected} steps): the two "
                        f"files are from different saves; delete both to start over")
    return model


def _save_run(model, out: Path, chars: Sequence[str], maxlen: int, record: dict) -> None:
    """Save the model and its sidecar (with ``record``) to ``out``, each file atomically.

    Both are written beside ``out`` under temporary names, then moved over the old files, the
    model first. An interruption leaves each file whole: old or new. Should it come between the
    two moves, :func:`_load_run` notices (the model's optimizer steps and the record disagree).
    """
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.keras")
    try:
        save_generator(model, chars, tmp, maxlen=maxlen, training=record)
        os.replace(tmp, out)
        os.replace(sidecar_path(tmp), sidecar_path(out))
    finally:
        tmp.unlink(missing_ok=True)
        sidecar_path(tmp).unlink(missing_ok=True)


def _write_outputs(record: dict, n_chars: int, *, epochs: int, loss_csv: Path | None,
                   samples: Path | None) -> dict[str, Path]:
    """(Re)write the loss CSV and the samples' Markdown from the run's ``record``."""
    s = record["settings"]
    written = {}
    if loss_csv:
        fixed = {"corpus_chars": s["corpus_chars"],
                 "n_sequences": len(range(0, s["corpus_chars"] - s["maxlen"], s["step"])),
                 "n_chars": n_chars,
                 **{k: s[k] for k in ("maxlen", "step", "batch_size", "units", "learning_rate",
                                      "seed")}}
        rows = [{"epoch": r["epoch"], "round": r["round"], "loss": r["loss"],
                 "seconds": r["seconds"], **fixed, "keras_version": r["keras_version"],
                 "backend": r["backend"]} for r in record["history"]]
        written["loss_csv"] = write_loss_csv(rows, loss_csv)
    if samples:
        notes = [f"Model: LSTM({s['units']}) on {s['corpus_chars']:,} characters of Shakespeare "
                 f"(RMSprop, learning rate {s['learning_rate']}, batch {s['batch_size']}, seed "
                 f"{s['seed']}), {record['epochs_done']} of {epochs} epochs trained in rounds "
                 f"of {s['round_epochs']}. As in the chapter, the seed text is a window of the "
                 f"training text, at a start drawn with the seed."]
        md = samples_markdown(record["samples"], title="Shakespeare samples", notes=notes)
        written["samples"] = _write_atomically(samples, md)
    return written


def run_generator(
    out: str | os.PathLike,
    *,
    epochs: int = CHAPTER_EPOCHS,
    round_epochs: int = CHAPTER_ROUND_EPOCHS,
    sample_at: Iterable[int] | None = None,
    batch_size: int = 128,
    maxlen: int = 40,
    step: int = 3,
    units: int = 128,
    learning_rate: float = 0.01,
    seed: int = 0,
    max_chars: int | None = None,
    nltk_data: str | os.PathLike | None = None,
    loss_csv: str | os.PathLike | None = None,
    samples: str | os.PathLike | None = None,
    sample_length: int = 400,
    verbose: int | str = "auto",
) -> dict[str, Path]:
    """Train the chapter's Shakespeare generator in rounds, saving after each; resume a run.

    Reads the chapter's three plays (:func:`load_gutenberg`, the first ``max_chars``
    characters if given) and trains the chapter's model (:func:`build_generator`) for
    ``epochs`` epochs in rounds of ``round_epochs`` (:func:`round_ends`; the chapter's 5 x 6 by
    default), each round a :func:`fit_round` seeded with ``seed + round index``. After every
    round it saves the model to ``out`` with a record of the run in the sidecar (the settings,
    the epochs done, the loss per epoch and the samples so far), each file atomically; then
    rewrites ``loss_csv`` (one row per epoch trained so far: ``epoch``, ``round``, ``loss``,
    ``seconds``, the run's settings, the Keras version and backend) and, after each epoch of
    ``sample_at`` (:func:`sample_epochs`; the first round's end and the last epoch by
    default), adds to ``samples`` (Markdown) one section of ``sample_length`` characters
    generated at 0.2, 0.5 and 1.0 (:func:`sample_texts`) after the same seed text: as in the
    chapter, a window of the training text at a start drawn with ``seed``.

    When ``out`` holds a run saved this way, it resumes it: it loads the model, its optimizer
    state included, and goes on with the next round (a resumed run ends exactly as one that was
    never stopped); when all ``epochs`` are done it only writes the samples that are missing
    and can still be made (those of the last epoch) and rewrites the CSV and Markdown from the
    record. Another run's settings (units, maxlen, step, learning rate, batch size, seed, round
    length, text) are refused, not mixed in.

    Returns
    -------
    dict
        The paths written, by name: ``model``, ``loss_csv``, ``samples``.

    Raises
    ------
    ConfigError
        Bad settings, a sample epoch that does not end a round, or a saved run at ``out``
        that cannot be resumed with these settings.
    DataError
        The corpus is missing, or the files at ``out`` are corrupt or do not match.
    """
    out = Path(out)
    if out.suffix != ".keras":
        raise ConfigError(f"the model file must end in .keras, got {out}")
    for name, value in (("epochs", epochs), ("round_epochs", round_epochs),
                        ("batch_size", batch_size), ("maxlen", maxlen), ("step", step),
                        ("units", units), ("sample_length", sample_length)):
        _check_count(name, value)
    if max_chars is not None:
        _check_count("max_chars", max_chars)
    if not learning_rate > 0:
        raise ConfigError(f"learning_rate must be positive, got {learning_rate!r}")
    chosen = sample_epochs(sample_at, epochs, round_epochs)
    to_sample = chosen if samples else []
    loss_csv = Path(loss_csv) if loss_csv else None
    samples = Path(samples) if samples else None
    settings = {"units": units, "maxlen": maxlen, "step": step,
                "learning_rate": float(learning_rate), "batch_size": batch_size, "seed": seed,
                "round_epochs": round_epochs}
    record = _saved_record(out, settings, epochs) if out.exists() else None

    text = load_gutenberg(nltk_data=nltk_data)
    corpus_chars = len(text)
    text = text[:max_chars] if max_chars else text
    corpus = {"corpus_chars": len(text),
              "corpus_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    if record is not None and any(record["settings"].get(k) != v for k, v in corpus.items()):
        there = record["settings"].get("corpus_chars")
        raise ConfigError(f"{out} was trained on another text ({there} characters there, "
                          f"{len(text)} here: another max_chars or another copy of the "
                          f"corpus): give the saved run's text to resume it, or delete "
                          f"{out.name} and {sidecar_path(out).name} or choose another output "
                          f"to start over")
    chars = sorted(set(text))
    x, y = char_windows(text, chars, maxlen, step)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    start = int(np.random.default_rng(seed).integers(0, len(text) - maxlen))
    seed_text = text[start : start + maxlen]
    ends = round_ends(epochs, round_epochs)

    model = None
    if record is None:
        from .training import seeded

        log.info("training on %s of %s characters of Shakespeare: %d epochs in rounds of %d",
                 f"{len(text):,}", f"{corpus_chars:,}", epochs, round_epochs)
        record = {"settings": {**settings, **corpus}, "epochs_done": 0, "history": [],
                  "samples": []}
        with seeded(seed):
            model = build_generator(len(chars), units, learning_rate)
    elif record["epochs_done"] < epochs:
        done = record["epochs_done"]
        log.info("resuming %s: %d of %d epochs done, going on with round %d of %d (epochs %d-%d)",
                 out, done, epochs, done // round_epochs + 1, len(ends), done + 1,
                 next(e for e in ends if e > done))
        model = _load_run(out, record, len(chars), steps_per_epoch)
    else:
        log.info("%s has trained all %d epochs already: writing only the samples that are "
                 "missing", out, epochs)

    for stop in (e for e in ends if e > record["epochs_done"]):
        begin = record["epochs_done"]
        round_index = begin // round_epochs
        record["history"] += fit_round(model, x, y, start=begin, stop=stop,
                                       round_index=round_index, seed=seed,
                                       batch_size=batch_size, verbose=verbose)
        record["epochs_done"] = stop
        if stop in to_sample:
            record["samples"].append(_sampled(model, chars, record, seed_text, seed=seed,
                                              length=sample_length, maxlen=maxlen))
        _save_run(model, out, chars, maxlen, record)
        _write_outputs(record, len(chars), epochs=epochs, loss_csv=loss_csv, samples=samples)
        log.info("round %d of %d: epochs %d-%d, loss %.4f; saved to %s", round_index + 1,
                 len(ends), begin + 1, stop, record["history"][-1]["loss"], out)

    have = {section["epoch"] for section in record["samples"]}
    done = record["epochs_done"]
    if done in to_sample and done not in have:
        if model is None:
            model = _load_run(out, record, len(chars), steps_per_epoch)
        record["samples"].append(_sampled(model, chars, record, seed_text, seed=seed,
                                          length=sample_length, maxlen=maxlen))
        _save_run(model, out, chars, maxlen, record)
    lost = [epoch for epoch in to_sample if epoch < done and epoch not in have]
    if lost:
        log.warning("no samples after epoch(s) %s in %s's record, and the model has trained "
                    "past them (%d epochs): they can no longer be made", _listed(lost),
                    out.name, done)
    return {"model": out, **_write_outputs(record, len(chars), epochs=epochs,
                                           loss_csv=loss_csv, samples=samples)}


def _sampled(model, chars: Sequence[str], record: dict, seed_text: str, *, seed: int,
             length: int, maxlen: int) -> dict:
    """One section of samples: the texts after ``seed_text`` from the model as it is now."""
    log.info("sampling %d characters at temperatures %s after epoch %d", length,
             ", ".join(map(str, TEMPERATURES)), record["epochs_done"])
    return {"epoch": record["epochs_done"], "loss": record["history"][-1]["loss"],
            "seed_text": seed_text, "seed": seed, "length": length,
            "texts": sample_texts(model, chars, seed_text, length=length, seed=seed,
                                  maxlen=maxlen)}
