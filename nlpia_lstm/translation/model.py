"""LSTM encoder-decoder translation, trained end to end with teacher forcing.

The model is the one of Jurafsky & Martin's chapter 9 (the second seed), with three decoder
variants::

    source ids -> Embedding(mask_zero) -> Bidirectional(LSTM) x encoder_layers
               -> encoder states (batch, S, 2 * units), and the context: the top layer's
                  final forward and backward states, concatenated
    <s> y1 .. yn -> Embedding(mask_zero) [+ context at every step] -> LSTM(2 * units)
               started from the context [-> attention over the encoder states]
               -> Dense(softmax) -> y1 .. yn </s>

- ``"init"`` uses the context only as the decoder's first state;
- ``"every_step"`` also concatenates it to the decoder's input embedding at each step, so
  that its influence does not wane along the sentence;
- ``"attention"`` lets each decoder state attend over all the encoder's top-layer states
  (Luong's dot-product attention, :class:`LuongAttention`); the attended context and the
  decoder state go through ``Dense(attention_dim, tanh)`` before the softmax.

The loss is the cross-entropy of each target token; Keras masks the padding out (the
embeddings' ``mask_zero``) and averages over the real tokens. For decoding, an encoder and a
one-step decoder are built from the trained layers (as in the keras-io ``lstm_seq2seq``
example) and run one token at a time, greedily (a batch at once) or with a beam search.
Only Keras 3 APIs are used, so any backend runs it; LSTM settings are Keras's defaults, so
the TensorFlow backend may use cuDNN kernels on a GPU.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import keras
import numpy as np
import sacrebleu
from keras import layers, ops

from ..config import VARIANTS
from ..errors import ConfigError, DataError
from ..saving import load_model, read_sidecar, save_model, sidecar_path
from .text import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SentencePieceVocabulary,
    Vocabulary,
    content_ids,
    encode_source,
    tokenize,
    vocabulary_from_json,
)

AnyVocabulary = Vocabulary | SentencePieceVocabulary


# --- Layers -----------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="nlpia_lstm")
class ContextEveryStep(layers.Layer):
    """Concatenate a per-sentence context vector to every time step of a sequence.

    Inputs are ``[steps (batch, time, d), context (batch, c)]``; the output is
    ``(batch, time, d + c)`` and keeps the mask of ``steps``.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        steps, context = inputs
        # Broadcasting (batch, time, 1) + (batch, 1, c) repeats the context over any length.
        repeated = ops.zeros_like(steps[:, :, :1]) + ops.expand_dims(context, 1)
        return ops.concatenate([steps, repeated], axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def compute_output_shape(self, input_shape):
        steps, context = input_shape
        return (*steps[:-1], steps[-1] + context[-1])


@keras.saving.register_keras_serializable(package="nlpia_lstm")
class PaddingMask(layers.Layer):
    """Token ids ``(batch, S)`` -> float mask ``(batch, S)``: 1 on real tokens, 0 on padding."""

    def call(self, ids):
        return ops.cast(ops.not_equal(ids, PAD_ID), "float32")

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="nlpia_lstm")
class LuongAttention(layers.Layer):
    """Luong's dot-product attention of each decoder state over all encoder states.

    Inputs are ``[queries (batch, T, d), values (batch, S, d), source_mask (batch, S)]``; the
    outputs ``[context (batch, T, d), weights (batch, T, S)]``, where ``weights`` is the softmax
    over the source positions of ``queries . values / sqrt(d)`` and ``context`` the weighted
    sum of the values. Padded source positions get exactly zero weight. The source mask is an
    explicit input, not a Keras mask, so that the one-step decoder can take it as an ``Input``;
    the outputs keep the queries' Keras mask, so the loss still leaves padded targets out.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        queries, values, source_mask = inputs
        scores = ops.matmul(queries, ops.transpose(values, (0, 2, 1)))  # (batch, T, S)
        scores = scores / ops.sqrt(ops.cast(ops.shape(values)[-1], scores.dtype))
        keep = ops.expand_dims(ops.cast(source_mask, "bool"), 1)  # (batch, 1, S)
        scores = ops.where(keep, scores, ops.full_like(scores, -1e9))
        # -1e9 already makes padding's weight underflow to 0; the product makes it exact.
        weights = ops.softmax(scores, axis=-1) * ops.cast(keep, scores.dtype)
        return ops.matmul(weights, values), weights

    def compute_mask(self, inputs, mask=None):
        if mask is None or mask[0] is None:
            return None
        return [mask[0], mask[0]]

    def compute_output_shape(self, input_shape):
        queries, values, _ = input_shape
        return (queries[0], queries[1], values[-1]), (queries[0], queries[1], values[1])


# --- The model --------------------------------------------------------------------------------


def build_model(
    source_vocab_size: int,
    target_vocab_size: int,
    *,
    variant: str = "init",
    embedding_dim: int = 128,
    units: int = 128,
    encoder_layers: int = 2,
    attention_dim: int = 256,
    dropout: float = 0.0,
    learning_rate: float = 1e-3,
    clipnorm: float = 5.0,
) -> keras.Model:
    """Build and compile the teacher-forced training model ``[source, decoder_input] -> probs``.

    Parameters
    ----------
    source_vocab_size, target_vocab_size : int
        Vocabulary sizes, the special tokens included (id 0 is padding).
    variant : {"init", "every_step", "attention"}
        Whether the context only starts the decoder, is also fed to every decoder step, or
        each decoder step attends over all encoder states.
    embedding_dim : int
        Size of the source and target embeddings.
    units : int
        Units of each encoder LSTM per direction; the decoder has ``2 * units``.
    encoder_layers : int
        Number of stacked bidirectional LSTM layers in the encoder.
    attention_dim : int
        Size of the attentional state (``"attention"`` only).
    dropout : float
        Dropout rate after the embeddings and before the output layer (training only).
    learning_rate, clipnorm : float
        Adam's learning rate, and the largest gradient norm it applies.
    """
    if variant not in VARIANTS:
        raise ConfigError(f"unknown decoder variant {variant!r}; choose from {', '.join(VARIANTS)}")
    for name, value in (("embedding_dim", embedding_dim), ("units", units),
                        ("encoder_layers", encoder_layers), ("attention_dim", attention_dim)):
        if not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must lie in [0, 1), got {dropout}")

    source = keras.Input((None,), dtype="int32", name="source")
    x = layers.Embedding(source_vocab_size, embedding_dim, mask_zero=True,
                         name="source_embedding")(source)
    x = layers.Dropout(dropout)(x)
    for i in range(1, encoder_layers):
        x = layers.Bidirectional(layers.LSTM(units, return_sequences=True),
                                 name=f"encoder_{i}")(x)
    encoder_states, forward_h, forward_c, backward_h, backward_c = layers.Bidirectional(
        layers.LSTM(units, return_sequences=True, return_state=True),
        name=f"encoder_{encoder_layers}")(x)
    context_h = layers.Concatenate(name="context_h")([forward_h, backward_h])
    context_c = layers.Concatenate(name="context_c")([forward_c, backward_c])

    previous = keras.Input((None,), dtype="int32", name="decoder_input")
    y = layers.Embedding(target_vocab_size, embedding_dim, mask_zero=True,
                         name="target_embedding")(previous)
    y = layers.Dropout(dropout)(y)
    if variant == "every_step":
        y = ContextEveryStep(name="context_every_step")([y, context_h])
    y, _, _ = layers.LSTM(2 * units, return_sequences=True, return_state=True,
                          name="decoder")(y, initial_state=[context_h, context_c])
    if variant == "attention":
        source_mask = PaddingMask(name="source_mask")(source)
        context, _ = LuongAttention(name="attention")([y, encoder_states, source_mask])
        y = layers.Concatenate(name="state_and_context")([y, context])
        y = layers.Dense(attention_dim, activation="tanh", name="attentional_state")(y)
    y = layers.Dropout(dropout)(y)
    probs = layers.Dense(target_vocab_size, activation="softmax", name="next_token")(y)

    model = keras.Model([source, previous], probs, name=f"translator_{variant}")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm),
                  loss=keras.losses.SparseCategoricalCrossentropy())
    return model


def model_variant(model: keras.Model) -> str:
    """The decoder variant of a model built by :func:`build_model`."""
    names = {layer.name for layer in model.layers}
    if "attention" in names:
        return "attention"
    return "every_step" if "context_every_step" in names else "init"


def inference_models(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    """Split a trained model into an encoder and a one-step decoder that share its layers.

    The encoder maps source ids to ``[h, c, *memory]``: the context states, and what the
    decoder reads at every step besides them (nothing for ``"init"``, the context ``h`` for
    ``"every_step"``, the encoder states and the source mask for ``"attention"``). The step
    model maps ``[token (batch, 1), h, c, *memory]`` to the next-token probabilities
    ``(batch, 1, vocab)`` and the new ``[h, c]``, and for ``"attention"`` also the attention
    weights ``(batch, 1, S)``.
    """
    variant = model_variant(model)
    context_h = model.get_layer("context_h").output
    context_c = model.get_layer("context_c").output
    size = context_h.shape[-1]
    token = keras.Input((1,), dtype="int32", name="token")
    state = [keras.Input((size,), name="state_h"), keras.Input((size,), name="state_c")]
    y = model.get_layer("target_embedding")(token)
    if variant == "attention":
        top = max((layer for layer in model.layers if layer.name.startswith("encoder_")),
                  key=lambda layer: int(layer.name.split("_")[1]))
        encoder_out = [top.output[0], model.get_layer("source_mask").output]
        memory = [keras.Input((None, size), name="encoder_states"),
                  keras.Input((None,), name="source_mask")]
        y, h, c = model.get_layer("decoder")(y, initial_state=state)
        context, weights = model.get_layer("attention")([y, *memory])
        y = model.get_layer("state_and_context")([y, context])
        y = model.get_layer("attentional_state")(y)
        outputs = [model.get_layer("next_token")(y), h, c, weights]
    else:
        encoder_out = [context_h] if variant == "every_step" else []
        memory = [keras.Input((size,), name="context")] if variant == "every_step" else []
        if variant == "every_step":
            y = model.get_layer("context_every_step")([y, *memory])
        y, h, c = model.get_layer("decoder")(y, initial_state=state)
        outputs = [model.get_layer("next_token")(y), h, c]
    encoder = keras.Model(model.inputs[0], [context_h, context_c, *encoder_out], name="encoder")
    return encoder, keras.Model([token, *state, *memory], outputs, name="decoder_step")


# --- Decoding ---------------------------------------------------------------------------------


class Translator:
    """A trained model with its vocabularies: translates text greedily or with beam search.

    ``greedy`` and ``beam`` take source ids and return target ids (up to ``</s>``, without
    markers); ``translate`` and ``translate_many`` take and return text.
    """

    def __init__(self, model: keras.Model, source_vocab: AnyVocabulary,
                 target_vocab: AnyVocabulary, max_output_tokens: int = 20) -> None:
        if max_output_tokens <= 0:
            raise ConfigError(f"max_output_tokens must be positive, got {max_output_tokens}")
        self.model, self.source_vocab, self.target_vocab = model, source_vocab, target_vocab
        self.max_output_tokens = max_output_tokens
        self.variant = model_variant(model)
        self.encoder, self.step = inference_models(model)

    def _encode(self, source_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
        # predict_on_batch runs a compiled function: many times faster than an eager call.
        h, c, *memory = self.encoder.predict_on_batch(np.asarray(source_ids, dtype="int32"))
        return np.asarray(h), np.asarray(c), [np.asarray(m) for m in memory]

    def _next(self, tokens, h, c, memory) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log-probabilities of the next token after ``tokens``, and the new states."""
        outputs = self.step.predict_on_batch(
            [np.asarray(tokens, dtype="int32")[:, None], h, c, *memory])
        probs, h, c = (np.asarray(x) for x in outputs[:3])
        return np.log(np.maximum(probs[:, 0], 1e-30)), h, c

    def greedy(self, source_ids: np.ndarray, batch_size: int = 512) -> list[list[int]]:
        """Decode padded source ids, ``batch_size`` sentences at a time: at each step take the
        most probable token."""
        results: list[list[int]] = []
        for start in range(0, len(source_ids), batch_size):
            h, c, memory = self._encode(source_ids[start:start + batch_size])
            tokens = np.full(len(h), BOS_ID)
            out = np.full((len(h), self.max_output_tokens), EOS_ID)
            for t in range(self.max_output_tokens):
                logp, h, c = self._next(tokens, h, c, memory)
                tokens = logp.argmax(axis=-1)
                out[:, t] = tokens
                if (out[:, :t + 1] == EOS_ID).any(axis=1).all():
                    break
            results.extend(content_ids(row) for row in out)
        return results

    def beam(self, source_ids: np.ndarray, width: int = 4) -> list[int]:
        """Beam search for one sentence's ids, as Jurafsky & Martin describe it.

        The ``width`` best extensions are kept at each step; a hypothesis that emits ``</s>``
        is complete and shrinks the beam by one. The search ends when the beam is empty or
        after ``max_output_tokens`` steps, and the complete hypothesis with the best mean
        log-probability per token wins (mean, so that short outputs are not favoured).
        """
        if width < 1:
            raise ConfigError(f"beam width must be at least 1, got {width}")
        h, c, memory = self._encode(np.asarray(source_ids)[None])
        beams: list[tuple[float, list[int]]] = [(0.0, [BOS_ID])]
        complete: list[tuple[float, list[int]]] = []
        for _ in range(self.max_output_tokens):
            tiled = [np.repeat(m, len(beams), axis=0) for m in memory]
            logp, h, c = self._next([seq[-1] for _, seq in beams], h, c, tiled)
            scores = np.array([score for score, _ in beams])[:, None] + logp
            kept = []
            for flat in np.argsort(scores, axis=None)[::-1][:width - len(complete)]:
                row, token = divmod(int(flat), scores.shape[1])
                hypothesis = (float(scores[row, token]), beams[row][1] + [token])
                if token == EOS_ID:
                    complete.append(hypothesis)
                else:
                    kept.append((row, hypothesis))
            if not kept:
                break
            rows = [row for row, _ in kept]
            beams, h, c = [hypothesis for _, hypothesis in kept], h[rows], c[rows]
        best = max(complete or beams, key=lambda hyp: hyp[0] / (len(hyp[1]) - 1))
        return content_ids(best[1])

    def translate(self, text: str, beam_width: int = 1) -> tuple[str, list[str]]:
        """Translate one sentence; return the text and the source words read as ``<unk>``.

        ``beam_width`` 1 decodes greedily.
        """
        tokens = tokenize(text)
        if not tokens:
            raise DataError("nothing to translate: the input is empty")
        ids = encode_source([tokens], self.source_vocab)
        out = self.greedy(ids)[0] if beam_width == 1 else self.beam(ids[0], beam_width)
        return self.target_vocab.decode(out), self.source_vocab.unknown(tokens)

    def translate_many(self, texts: list[str], beam_width: int = 1,
                       batch_size: int = 512) -> tuple[list[str], list[str]]:
        """Translate many sentences: greedily in batches (``beam_width`` 1), else one at a time
        with the beam. Return one translation per text (empty for an empty text) and the source
        words read as ``<unk>``."""
        tokenized = [tokenize(text) for text in texts]
        present = [i for i, tokens in enumerate(tokenized) if tokens]
        out = [""] * len(texts)
        if present:
            ids = encode_source([tokenized[i] for i in present], self.source_vocab)
            if beam_width == 1:
                decoded = self.greedy(ids, batch_size)
            else:
                decoded = [self.beam(row, beam_width) for row in ids]
            for i, target in zip(present, decoded, strict=True):
                out[i] = self.target_vocab.decode(target)
        unknown = [t for tokens in tokenized for t in self.source_vocab.unknown(tokens)]
        return out, unknown

    def attention(self, text: str, beam_width: int = 1) -> tuple[list[str], list[str], np.ndarray]:
        """Translate ``text`` and return where each output piece looked.

        Returns the source pieces, the target pieces (``</s>`` last) and the attention weights
        ``(target, source)`` of the teacher-forced model on that translation; each row sums
        to 1.
        """
        if self.variant != "attention":
            raise ConfigError(f"only an attention model has attention weights; this model's "
                              f"decoder variant is {self.variant!r}")
        tokens = tokenize(text)
        if not tokens:
            raise DataError("nothing to translate: the input is empty")
        source = encode_source([tokens], self.source_vocab)
        target = self.greedy(source)[0] if beam_width == 1 else self.beam(source[0], beam_width)
        decoder_input = np.array([[BOS_ID, *target]], dtype="int32")
        weights_model = keras.Model(self.model.inputs, self.model.get_layer("attention").output[1])
        weights = np.asarray(weights_model.predict_on_batch([source, decoder_input]))[0]
        target_pieces = [self.target_vocab.piece(i) for i in target] + ["</s>"]
        return self.source_vocab.pieces(tokens), target_pieces, weights


def plot_attention(source: list[str], target: list[str], weights: np.ndarray,
                   path: str | os.PathLike) -> Path:
    """Draw attention weights ``(target, source)`` as a heatmap: source pieces along the top,
    target pieces down the side, as in Bahdanau et al.'s figures; return the PNG's path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(1.0 + 0.45 * len(source), 1.0 + 0.4 * len(target)))
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source)), source, rotation=60, ha="left")
    ax.set_yticks(range(len(target)), target)
    ax.xaxis.tick_top()
    ax.set_xlabel("English (source)")
    ax.set_ylabel("Spanish (output)")
    fig.colorbar(image, ax=ax, fraction=0.04, label="attention weight")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --- Scores -----------------------------------------------------------------------------------


def token_accuracy(model: keras.Model, source: np.ndarray, decoder_input: np.ndarray,
                   targets: np.ndarray, batch_size: int = 256) -> float:
    """Share of target tokens (``</s>`` included, padding not) that the teacher-forced model
    predicts exactly, given the gold previous tokens."""
    correct = total = 0
    for start in range(0, len(source), batch_size):
        batch = slice(start, start + batch_size)
        probs = model.predict_on_batch([source[batch], decoder_input[batch]])
        real = targets[batch] != PAD_ID
        correct += int(((np.argmax(probs, axis=-1) == targets[batch]) & real).sum())
        total += int(real.sum())
    return correct / total


def corpus_scores(references: list[list[str]], hypotheses: list[str]) -> dict:
    """sacreBLEU's corpus BLEU and chrF (0-100) of detokenized hypotheses, each against all
    its references; with their signatures.

    sacrebleu reads references as streams, one per reference position. A sentence with fewer
    references than the most has ``None`` in the streams it lacks, which sacrebleu leaves out;
    an empty string would count as a real, empty reference and shorten the brevity penalty's
    reference length.
    """
    if len(references) != len(hypotheses) or not references:
        raise ValueError("need one list of references per hypothesis, and at least one")
    n = max(len(refs) for refs in references)
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(n)]
    bleu, chrf = sacrebleu.BLEU(), sacrebleu.CHRF()
    bleu_score = bleu.corpus_score(hypotheses, streams)
    return {"bleu": bleu_score.score, "chrf": chrf.corpus_score(hypotheses, streams).score,
            "bleu_signature": str(bleu.get_signature()),
            "chrf_signature": str(chrf.get_signature()), "bleu_detail": str(bleu_score)}


# --- Saving -----------------------------------------------------------------------------------


def save_translator(translator: Translator, path: str | Path, settings: dict | None = None) -> Path:
    """Save the model as ``.keras`` with its vocabularies in the JSON sidecar
    (:mod:`nlpia_lstm.saving`; a sentencepiece model as base64 of its serialized form), and
    ``settings`` (e.g. the experiment config) as a record."""
    return save_model(translator.model, path, "translator", variant=translator.variant,
                      max_output_tokens=translator.max_output_tokens,
                      source_vocab=translator.source_vocab.to_json(),
                      target_vocab=translator.target_vocab.to_json(), settings=settings or {})


def load_translator(path: str | Path) -> Translator:
    """Load a translator saved by :func:`save_translator`."""
    meta = read_sidecar(path, "translator")
    try:
        vocabs = (vocabulary_from_json(meta["source_vocab"]),
                  vocabulary_from_json(meta["target_vocab"]))
        max_output_tokens = int(meta["max_output_tokens"])
    except (ValueError, KeyError, TypeError, DataError) as exc:
        raise DataError(f"{sidecar_path(path)}: unreadable translator settings ({exc})") from exc
    model, _ = load_model(path, "translator")
    sizes = (model.get_layer("source_embedding").input_dim,
             model.get_layer("target_embedding").input_dim)
    if sizes != (len(vocabs[0]), len(vocabs[1])):
        raise DataError(f"{sidecar_path(path)}: its vocabularies do not fit the model in "
                        f"{Path(path).name}")
    return Translator(model, *vocabs, max_output_tokens=max_output_tokens)


# --- Training ---------------------------------------------------------------------------------


class LengthBuckets(keras.utils.PyDataset):
    """Teacher-forcing batches of pairs of similar target length, each cut to its own longest
    pair, so that a few long pairs do not make every batch long.

    Each epoch the pairs are sorted by target length (ties broken at random), cut into batches
    of ``batch_size``, and the batches shuffled, all with a generator seeded by ``seed``; fit
    with ``shuffle=False``, so that Keras keeps this order.

    Parameters
    ----------
    source, decoder_input, target : np.ndarray
        Right-padded id arrays, one row per pair.
    batch_size : int
        Pairs per batch.
    seed : int
        Seed of the grouping and the batch order.
    """

    def __init__(self, source: np.ndarray, decoder_input: np.ndarray, target: np.ndarray,
                 batch_size: int, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.source, self.decoder_input, self.target = source, decoder_input, target
        self.batch_size, self.rng = batch_size, np.random.default_rng(seed)
        self.source_lengths = (source != PAD_ID).sum(axis=1)
        self.target_lengths = (target != PAD_ID).sum(axis=1)
        self.on_epoch_end()

    def on_epoch_end(self) -> None:
        order = np.lexsort((self.rng.random(len(self.target)), self.target_lengths))
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        middle = batches[:-1]
        self.rng.shuffle(middle)
        # The longest batch (the only one that may be short of batch_size) comes first: see
        # __getitem__.
        self.batches = [batches[-1], *middle]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        rows = self.batches[index]
        source_length = int(self.source_lengths[rows].max())
        target_length = int(self.target_lengths[rows].max())
        if index == 0:
            # The TensorFlow backend fixes the input signature from batches 0 and 1 of the
            # first epoch. One more (masked) padding column in batch 0 makes both its lengths
            # differ from batch 1's, so that they stay variable; a partial batch there does the
            # same for the batch size. Padding changes no loss, state or attention.
            source_length, target_length = source_length + 1, target_length + 1
        return ((_cut(self.source[rows], source_length),
                 _cut(self.decoder_input[rows], target_length)),
                _cut(self.target[rows], target_length))


def _cut(ids: np.ndarray, length: int) -> np.ndarray:
    """``ids`` cut or right-padded to ``length`` columns."""
    if ids.shape[1] >= length:
        return ids[:, :length]
    return np.pad(ids, ((0, 0), (0, length - ids.shape[1])), constant_values=PAD_ID)


class TimeLimit(keras.callbacks.Callback):
    """Stop training after the first epoch that ends more than ``minutes`` after it started."""

    def __init__(self, minutes: float) -> None:
        super().__init__()
        self.seconds = 60.0 * minutes
        self.started = 0.0
        self.stopped_after: int | None = None

    def on_train_begin(self, logs=None) -> None:
        self.started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if self.seconds and time.monotonic() - self.started > self.seconds:
            self.model.stop_training = True
            self.stopped_after = epoch + 1
