"""LSTM encoder-decoder translation, trained end to end with teacher forcing.

The model is the one of Jurafsky & Martin's chapter 9 (the second seed)::

    source ids -> Embedding(mask_zero) -> Bidirectional(LSTM) x encoder_layers
               -> context: the top layer's final forward and backward states, concatenated
    <s> y1 .. yn -> Embedding(mask_zero) [+ context at every step] -> LSTM(2 * units)
               started from the context -> Dense(softmax) -> y1 .. yn </s>

Decoder variant ``"init"`` uses the context only as the decoder's first state; ``"every_step"``
also concatenates it to the decoder's input embedding at each step, so that its influence
does not wane along the sentence. The loss is the cross-entropy of each target token; Keras
masks the padding out (the embeddings' ``mask_zero``) and averages over the real tokens.

For decoding, separate encoder and one-step decoder models are built from the trained layers
(as in the keras-io ``lstm_seq2seq`` example) and run one token at a time, greedily or with a
beam search. Only Keras 3 APIs are used, so any backend runs it; LSTM settings are Keras's
defaults, so the TensorFlow backend may use cuDNN kernels on a GPU.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers, ops
from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

from ..config import VARIANTS
from ..errors import ConfigError, DataError
from ..saving import load_model, read_sidecar, save_model, sidecar_path
from .text import BOS_ID, EOS_ID, PAD_ID, Vocabulary, detokenize, encode_source, tokenize

BLEU_SMOOTHING = "NLTK SmoothingFunction().method1 (epsilon 0.1 added to zero n-gram counts)"


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


def build_model(
    source_vocab_size: int,
    target_vocab_size: int,
    *,
    variant: str = "init",
    embedding_dim: int = 128,
    units: int = 128,
    encoder_layers: int = 2,
    dropout: float = 0.0,
    learning_rate: float = 1e-3,
) -> keras.Model:
    """Build and compile the teacher-forced training model ``[source, decoder_input] -> probs``.

    Parameters
    ----------
    source_vocab_size, target_vocab_size : int
        Vocabulary sizes, the special tokens included (id 0 is padding).
    variant : {"init", "every_step"}
        Whether the context only starts the decoder or is also fed to every decoder step.
    embedding_dim : int
        Size of the source and target word embeddings.
    units : int
        Units of each encoder LSTM per direction; the decoder has ``2 * units``.
    encoder_layers : int
        Number of stacked bidirectional LSTM layers in the encoder.
    dropout : float
        Dropout rate after the embeddings and before the output layer (training only).
    learning_rate : float
        Adam's learning rate.
    """
    if variant not in VARIANTS:
        raise ConfigError(f"unknown decoder variant {variant!r}; choose from {', '.join(VARIANTS)}")
    for name, value in (("embedding_dim", embedding_dim), ("units", units),
                        ("encoder_layers", encoder_layers)):
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
    _, forward_h, forward_c, backward_h, backward_c = layers.Bidirectional(
        layers.LSTM(units, return_state=True), name=f"encoder_{encoder_layers}")(x)
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
    y = layers.Dropout(dropout)(y)
    probs = layers.Dense(target_vocab_size, activation="softmax", name="next_token")(y)

    model = keras.Model([source, previous], probs, name=f"translator_{variant}")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy())
    return model


def model_variant(model: keras.Model) -> str:
    """``"every_step"`` if the model feeds the context to every decoder step, else ``"init"``."""
    names = {layer.name for layer in model.layers}
    return "every_step" if "context_every_step" in names else "init"


def inference_models(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    """Split a trained model into an encoder and a one-step decoder that share its layers.

    The encoder maps source ids to the context ``[h, c]``; the step model maps
    ``[token (batch, 1), h, c]`` (plus the context for ``"every_step"``) to the next-token
    probabilities ``(batch, 1, vocab)`` and the new ``[h, c]``.
    """
    context_h = model.get_layer("context_h").output
    encoder = keras.Model(model.inputs[0], [context_h, model.get_layer("context_c").output])
    size = context_h.shape[-1]
    token = keras.Input((1,), dtype="int32", name="token")
    state = [keras.Input((size,), name="state_h"), keras.Input((size,), name="state_c")]
    inputs = [token, *state]
    y = model.get_layer("target_embedding")(token)
    if model_variant(model) == "every_step":
        context = keras.Input((size,), name="context")
        inputs.append(context)
        y = model.get_layer("context_every_step")([y, context])
    y, h, c = model.get_layer("decoder")(y, initial_state=state)
    probs = model.get_layer("next_token")(y)
    return encoder, keras.Model(inputs, [probs, h, c])


class Translator:
    """A trained model with its vocabularies: translates text greedily or with beam search."""

    def __init__(self, model: keras.Model, source_vocab: Vocabulary, target_vocab: Vocabulary,
                 max_output_tokens: int = 20) -> None:
        if max_output_tokens <= 0:
            raise ConfigError(f"max_output_tokens must be positive, got {max_output_tokens}")
        self.model, self.source_vocab, self.target_vocab = model, source_vocab, target_vocab
        self.max_output_tokens = max_output_tokens
        self.variant = model_variant(model)
        self.encoder, self.step = inference_models(model)

    def _encode(self, source_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # predict_on_batch runs a compiled function: many times faster than an eager call.
        h, c = self.encoder.predict_on_batch(np.asarray(source_ids, dtype="int32"))
        return np.asarray(h), np.asarray(c)

    def _next(self, tokens, h, c, context) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log-probabilities of the next token after ``tokens``, and the new states."""
        inputs = [np.asarray(tokens, dtype="int32")[:, None], h, c]
        if self.variant == "every_step":
            inputs.append(context)
        probs, h, c = (np.asarray(x) for x in self.step.predict_on_batch(inputs))
        return np.log(np.maximum(probs[:, 0], 1e-30)), h, c

    def greedy(self, source_ids: np.ndarray) -> list[list[str]]:
        """Decode a batch of padded source ids: at each step take the most probable token."""
        h, c = self._encode(source_ids)
        context = h
        tokens = np.full(len(h), BOS_ID)
        out = np.full((len(h), self.max_output_tokens), EOS_ID)
        for t in range(self.max_output_tokens):
            logp, h, c = self._next(tokens, h, c, context)
            tokens = logp.argmax(axis=-1)
            out[:, t] = tokens
            if (out[:, :t + 1] == EOS_ID).any(axis=1).all():
                break
        return [self.target_vocab.words(row) for row in out]

    def beam(self, source_ids: np.ndarray, width: int = 4) -> list[str]:
        """Beam search for one sentence's ids, as Jurafsky & Martin describe it.

        The ``width`` best extensions are kept at each step; a hypothesis that emits ``</s>``
        is complete and shrinks the beam by one. The search ends when the beam is empty or
        after ``max_output_tokens`` steps, and the complete hypothesis with the best mean
        log-probability per token wins (mean, so that short outputs are not favoured).
        """
        if width < 1:
            raise ConfigError(f"beam width must be at least 1, got {width}")
        h, c = self._encode(np.asarray(source_ids)[None])
        context = h
        beams: list[tuple[float, list[int]]] = [(0.0, [BOS_ID])]
        complete: list[tuple[float, list[int]]] = []
        for _ in range(self.max_output_tokens):
            logp, h, c = self._next([seq[-1] for _, seq in beams], h, c,
                                    np.repeat(context, len(beams), axis=0))
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
        return self.target_vocab.words(best[1])

    def translate(self, text: str, beam_width: int = 1) -> tuple[str, list[str]]:
        """Translate one sentence; return the text and the source words not in the vocabulary.

        Unknown words are read as ``<unk>``. ``beam_width`` 1 decodes greedily.
        """
        tokens = tokenize(text)
        if not tokens:
            raise DataError("nothing to translate: the input is empty")
        ids = encode_source([tokens], self.source_vocab)
        words = self.greedy(ids)[0] if beam_width == 1 else self.beam(ids[0], beam_width)
        return detokenize(words), self.source_vocab.unknown(tokens)


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


def bleu(references: list[list[list[str]]], hypotheses: list[list[str]]) -> float:
    """Corpus BLEU-4 of tokenized hypotheses against all references of each sentence, with
    NLTK's ``SmoothingFunction().method1`` (see ``BLEU_SMOOTHING``)."""
    return corpus_bleu(references, hypotheses, smoothing_function=SmoothingFunction().method1)


def save_translator(translator: Translator, path: str | Path, settings: dict | None = None) -> Path:
    """Save the model as ``.keras`` with its vocabularies in the JSON sidecar
    (:mod:`nlpia_lstm.saving`), and ``settings`` (e.g. the experiment config) as a record."""
    return save_model(translator.model, path, "translator", variant=translator.variant,
                      max_output_tokens=translator.max_output_tokens,
                      source_vocab=list(translator.source_vocab.tokens),
                      target_vocab=list(translator.target_vocab.tokens), settings=settings or {})


def load_translator(path: str | Path) -> Translator:
    """Load a translator saved by :func:`save_translator`."""
    meta = read_sidecar(path, "translator")
    try:
        vocabs = Vocabulary(meta["source_vocab"]), Vocabulary(meta["target_vocab"])
        max_output_tokens = int(meta["max_output_tokens"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{sidecar_path(path)}: unreadable translator settings ({exc})") from exc
    model, _ = load_model(path, "translator")
    sizes = (model.get_layer("source_embedding").input_dim,
             model.get_layer("target_embedding").input_dim)
    if sizes != (len(vocabs[0]), len(vocabs[1])):
        raise DataError(f"{sidecar_path(path)}: its vocabularies do not fit the model in "
                        f"{Path(path).name}")
    return Translator(model, *vocabs, max_output_tokens=max_output_tokens)
