"""The encoder-decoder: shapes, masking, attention, greedy and beam decoding, sacreBLEU,
length-bucketed batches, the time limit, saving, ``translate``.

Everything runs on a handful of pairs that three tiny models overfit, without network access.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from nlpia_lstm.cli import main
from nlpia_lstm.errors import ConfigError, DataError
from nlpia_lstm.translation.text import (
    PAD_ID,
    Vocabulary,
    build_vocabularies,
    detokenize,
    encode_source,
    teacher_forcing,
    tokenize,
)

from conftest import one_line_error

# A handful of pairs to overfit: accents, ñ, ü, ¿ ? and ¡ ! on the Spanish side.
TINY = [
    ("I am tired.", "Estoy cansado."),
    ("Where is the bathroom?", "¿Dónde está el baño?"),
    ("What a pity!", "¡Qué lástima!"),
    ("The green witch arrived.", "Llegó la bruja verde."),
    ("The boy sings.", "El niño canta."),
    ("I see a penguin.", "Veo un pingüino."),
]


# -- model ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_data():
    sources = [tokenize(en) for en, _ in TINY]
    targets = [tokenize(es) for _, es in TINY]
    source_vocab, target_vocab = Vocabulary.build(sources), Vocabulary.build(targets)
    x = encode_source(sources, source_vocab)
    decoder_input, y = teacher_forcing(targets, target_vocab)
    return sources, targets, source_vocab, target_vocab, x, decoder_input, y


VARIANTS = ["init", "every_step", "attention"]


def overfit(variant, source_vocab, target_vocab, x, decoder_input, y, epochs=12):
    """A tiny model of ``variant`` trained on the pairs until it knows them by heart."""
    import keras

    from nlpia_lstm.translation.model import LengthBuckets, Translator, build_model

    keras.utils.set_random_seed(0)
    model = build_model(len(source_vocab), len(target_vocab), variant=variant, embedding_dim=16,
                        units=16, encoder_layers=2, attention_dim=16, learning_rate=0.03)
    repeats = 8  # several steps per epoch: Keras's per-epoch overhead dominates otherwise
    model.fit(LengthBuckets(*(np.tile(a, (repeats, 1)) for a in (x, decoder_input, y)),
                            batch_size=len(x)), epochs=epochs, shuffle=False, verbose=0)
    return Translator(model, source_vocab, target_vocab, max_output_tokens=20)


@pytest.fixture(scope="module")
def trained(tiny_data):
    """The three decoder variants overfitted on the six pairs (a few seconds each)."""
    _, _, source_vocab, target_vocab, x, decoder_input, y = tiny_data
    return {variant: overfit(variant, source_vocab, target_vocab, x, decoder_input, y)
            for variant in VARIANTS}


def test_shapes_of_training_and_inference_models():
    from keras.ops import convert_to_numpy

    from nlpia_lstm.translation.model import build_model, inference_models

    for variant, decoder_inputs in (("init", 8), ("every_step", 8 + 2 * 5), ("attention", 8)):
        model = build_model(11, 13, variant=variant, embedding_dim=8, units=5, encoder_layers=3,
                            attention_dim=6)
        out = convert_to_numpy(model([np.ones((2, 7), "int32"), np.ones((2, 4), "int32")]))
        assert out.shape == (2, 4, 13)
        assert np.allclose(out.sum(axis=-1), 1.0, atol=1e-5)
        # The context (10 = 2 x 5 units) reaches every decoder step only in "every_step".
        assert model.get_layer("decoder").weights[0].shape == (decoder_inputs, 4 * 10)
        assert sum("encoder_" in layer.name for layer in model.layers) == 3
        encoder, step = inference_models(model)
        h, c, *memory = (convert_to_numpy(t) for t in encoder(np.ones((2, 7), "int32")))
        assert h.shape == c.shape == (2, 10)
        assert [m.shape for m in memory] == {"init": [], "every_step": [(2, 10)],
                                             "attention": [(2, 7, 10), (2, 7)]}[variant]
        probs, h2, _, *weights = step([np.ones((2, 1), "int32"), h, c, *memory])
        assert probs.shape == (2, 1, 13) and h2.shape == (2, 10)
        assert [w.shape for w in weights] == ([(2, 1, 7)] if variant == "attention" else [])
    with pytest.raises(ConfigError, match="variant"):
        build_model(11, 13, variant="bahdanau")


def test_attention_sums_to_one_and_is_zero_on_padding(trained, tiny_data):
    from keras.ops import convert_to_numpy

    from nlpia_lstm.translation.model import LuongAttention, inference_models

    rng = np.random.default_rng(0)
    lengths = [7, 5, 3, 1]
    mask = (np.arange(7)[None] < np.array(lengths)[:, None]).astype("float32")
    _, weights = LuongAttention()([rng.normal(size=(4, 5, 8)), rng.normal(size=(4, 7, 8)), mask])
    weights = convert_to_numpy(weights)
    assert np.allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    assert (weights[np.broadcast_to(mask[:, None] == 0, weights.shape)] == 0.0).all()
    # In the trained model's one-step decoder too, with extra padding on every sentence.
    x = np.pad(tiny_data[4], ((0, 0), (0, 3)), constant_values=PAD_ID)
    encoder, step = inference_models(trained["attention"].model)
    h, c, states, source_mask = (convert_to_numpy(t) for t in encoder(x))
    _, _, _, weights = step([np.full((len(x), 1), 2, "int32"), h, c, states, source_mask])
    weights = convert_to_numpy(weights)[:, 0]
    assert np.allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    assert (weights[x == PAD_ID] == 0.0).all() and (weights[x != PAD_ID] > 0.0).all()


@pytest.mark.parametrize("variant", VARIANTS)
def test_padding_does_not_change_the_loss_or_the_context(variant, trained, tiny_data):
    from keras.ops import convert_to_numpy

    from nlpia_lstm.translation.model import inference_models

    x, decoder_input, y = tiny_data[4:]
    model = trained[variant].model

    def pad(a, n):
        return np.pad(a, ((0, 0), (0, n)), constant_values=PAD_ID)

    def loss(inputs, targets):
        return float(convert_to_numpy(model.compute_loss(
            x=inputs, y=targets, y_pred=model(inputs), training=False)))

    unpadded = loss([x, decoder_input], y)
    padded_inputs, padded_targets = [pad(x, 5), pad(decoder_input, 3)], pad(y, 3)
    assert np.isclose(unpadded, loss(padded_inputs, padded_targets), rtol=1e-5)
    # The check has teeth: a mean over every position, padding included, differs.
    probs = convert_to_numpy(model(padded_inputs))
    picked = np.take_along_axis(probs, padded_targets[..., None], axis=-1)
    assert not np.isclose(unpadded, -np.log(picked).mean(), rtol=1e-3)
    encoder, _ = inference_models(model)
    assert np.allclose(convert_to_numpy(encoder(x)[0]), convert_to_numpy(encoder(pad(x, 5))[0]),
                       atol=1e-6)


@pytest.mark.parametrize("variant", VARIANTS)
def test_overfitted_model_translates_its_pairs_exactly(variant, trained, tiny_data):
    from nlpia_lstm.translation.model import token_accuracy

    _, targets, _, target_vocab, x, decoder_input, y = tiny_data
    translator = trained[variant]
    assert token_accuracy(translator.model, x, decoder_input, y) == 1.0
    greedy = translator.greedy(x)
    assert [target_vocab.words(ids) for ids in greedy] == targets
    assert [translator.beam(row, width=3) for row in x] == greedy
    assert [translator.beam(row, width=1) for row in x] == greedy
    assert translator.translate("Where is the bathroom?", beam_width=3) == (
        "¿dónde está el baño?", [])
    texts = [en for en, _ in TINY]
    assert translator.translate_many(texts + [""]) == (
        [detokenize(t) for t in targets] + [""], [])


def test_sacrebleu_pads_missing_references_with_none():
    from nlpia_lstm.translation.model import corpus_scores

    hypotheses = ["el niño canta en la casa.", "¿dónde está el baño grande?"]
    refs = [["el niño canta en la casa."], ["¿dónde está el baño grande?", "¿dónde queda el "
                                            "baño?", "el baño, ¿dónde está?"]]
    scores = corpus_scores(refs, hypotheses)
    assert scores["bleu"] == pytest.approx(100.0) and scores["chrf"] == pytest.approx(100.0)
    assert "nrefs:var" in scores["bleu_signature"] and "tok:13a" in scores["bleu_signature"]
    assert scores["chrf_signature"].startswith("nrefs:var")
    # One wrong word costs BLEU; an empty string as padding would count as a reference.
    assert corpus_scores(refs, ["el niño canta en la mesa.", hypotheses[1]])["bleu"] < 100.0
    with pytest.raises(ValueError, match="one list of references per hypothesis"):
        corpus_scores(refs, hypotheses[:1])


def test_length_buckets_cover_every_pair_once_cut_to_their_own_length():
    from nlpia_lstm.translation.model import LengthBuckets

    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 9, 50)
    y = np.zeros((50, 10), "int32")
    for i, n in enumerate(lengths):
        y[i, :n] = rng.integers(4, 20, n)
    x = np.roll(y, 1, axis=0)  # sources of other lengths than their targets
    batches = LengthBuckets(x, y, y, batch_size=8, seed=0)
    assert len(batches) == 7
    for _ in range(2):
        seen = []
        for index in range(len(batches)):
            (source, decoder_input), target = batches[index]
            rows = batches.batches[index]
            seen.extend(rows)
            longest = int(lengths[rows].max()) + (index == 0)  # batch 0: one more column
            assert target.shape == decoder_input.shape == (len(rows), longest)
            assert (target[:, :lengths[rows].max()] == y[rows, :lengths[rows].max()]).all()
            assert (source != PAD_ID).sum() == (x[rows] != PAD_ID).sum()
        assert sorted(seen) == list(range(50))
        assert len(batches[0][1]) == 2  # the partial batch comes first
        batches.on_epoch_end()


def test_time_limit_stops_after_the_first_epoch_past_it():
    import keras

    from nlpia_lstm.translation.model import TimeLimit

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 2)), np.ones((4, 1))
    limit = TimeLimit(1e-6)
    history = model.fit(x, y, epochs=5, verbose=0, callbacks=[limit])
    assert len(history.history["loss"]) == 1 and limit.stopped_after == 1
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[TimeLimit(0)])
    assert len(history.history["loss"]) == 3


def test_save_and_load_give_identical_translations(trained, tiny_data, tmp_path):
    from nlpia_lstm.translation.model import load_translator, save_translator

    x = tiny_data[4]
    for variant, translator in trained.items():
        path = save_translator(translator, tmp_path / f"{variant}.keras", settings={"name": "t"})
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        assert meta["format"] == "nlpia_lstm.translator/1" and meta["variant"] == variant
        assert meta["source_vocab"] == list(translator.source_vocab.tokens)
        assert meta["target_vocab"] == list(translator.target_vocab.tokens)
        assert (meta["max_output_tokens"], meta["settings"]) == (20, {"name": "t"})
        loaded = load_translator(path)
        assert loaded.variant == variant
        assert loaded.greedy(x) == translator.greedy(x)
        assert [loaded.beam(r, 3) for r in x] == [translator.beam(r, 3) for r in x]
        assert np.allclose(loaded.encoder.predict_on_batch(x)[0],
                           translator.encoder.predict_on_batch(x)[0])


@pytest.fixture(scope="module")
def sentencepiece_translator():
    """An attention model on sentencepiece vocabularies, overfitted on the six pairs."""
    pairs = [(tuple(tokenize(en)), tuple(tokenize(es))) for en, es in TINY]
    source_vocab, target_vocab = build_vocabularies(pairs, "sentencepiece", vocab_size=60)
    x = encode_source([s for s, _ in pairs], source_vocab)
    decoder_input, y = teacher_forcing([t for _, t in pairs], target_vocab)
    return overfit("attention", source_vocab, target_vocab, x, decoder_input, y, epochs=15), x


def test_sentencepiece_translator_round_trip(sentencepiece_translator, tmp_path):
    from nlpia_lstm.translation.model import load_translator, save_translator
    from nlpia_lstm.translation.text import SentencePieceVocabulary

    translator, x = sentencepiece_translator
    texts = [en for en, _ in TINY]
    expected = [detokenize(tokenize(es)) for _, es in TINY]
    assert translator.translate_many(texts)[0] == expected
    path = save_translator(translator, tmp_path / "spm.keras")
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert set(meta["source_vocab"]) == {"sentencepiece"}
    loaded = load_translator(path)
    assert isinstance(loaded.target_vocab, SentencePieceVocabulary)
    assert loaded.greedy(x) == translator.greedy(x)
    assert loaded.translate_many(texts, beam_width=3) == translator.translate_many(texts, 3)
    meta["target_vocab"] = {"sentencepiece": "bm90IGEgbW9kZWw="}  # base64 of "not a model"
    path.with_suffix(".json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(DataError, match="unreadable translator settings"):
        load_translator(path)


def test_loading_checks_the_sidecar_against_the_model(trained, tmp_path):
    from nlpia_lstm.translation.model import load_translator, save_translator

    path = save_translator(trained["init"], tmp_path / "t.keras")
    sidecar = path.with_suffix(".json")
    meta = json.loads(sidecar.read_text(encoding="utf-8"))
    sidecar.write_text(json.dumps({**meta, "target_vocab": meta["target_vocab"][:-1]}),
                       encoding="utf-8")
    with pytest.raises(DataError, match="its vocabularies do not fit the model"):
        load_translator(path)
    sidecar.write_text(json.dumps({**meta, "max_output_tokens": "many"}), encoding="utf-8")
    with pytest.raises(DataError, match="unreadable translator settings"):
        load_translator(path)
    sidecar.write_text(json.dumps({**meta, "format": "nlpia_lstm.generator/1"}),
                       encoding="utf-8")
    with pytest.raises(DataError, match="not the settings of a translator model"):
        load_translator(path)


def test_beam_width_must_be_positive(trained, tiny_data):
    with pytest.raises(ConfigError, match="beam width must be at least 1"):
        trained["init"].beam(tiny_data[4][0], width=0)


def test_unknown_words_are_reported(trained):
    text, unknown = trained["init"].translate("The green witch arrived, Bob.")
    assert unknown == [",", "bob"]
    assert isinstance(text, str)
    with pytest.raises(DataError, match="empty"):
        trained["init"].translate("  ")


# -- command line -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_model(trained, tmp_path_factory) -> Path:
    from nlpia_lstm.translation.model import save_translator

    return save_translator(trained["every_step"],
                           tmp_path_factory.mktemp("model") / "tiny.keras")


@pytest.fixture(scope="module")
def saved_attention_model(trained, tmp_path_factory) -> Path:
    from nlpia_lstm.translation.model import save_translator

    return save_translator(trained["attention"],
                           tmp_path_factory.mktemp("model") / "attention.keras")


@pytest.mark.parametrize("beam", ["1", "3"])
def test_cli_translates_standard_input_line_by_line(beam, saved_attention_model, monkeypatch,
                                                   capsys):
    lines = ["Where is the bathroom?", "", "I am tired.", "What a pity!"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["translate", "-", "--model", str(saved_attention_model), "--beam", beam]) == 0
    assert capsys.readouterr().out.split("\n") == [
        "¿dónde está el baño?", "", "estoy cansado.", "¡qué lástima!", ""]


def test_cli_attention_plot_writes_a_png(saved_attention_model, saved_model, tmp_path, capsys):
    plot = tmp_path / "plots" / "attention.png"
    assert main(["translate", "Where is the bathroom?", "--model", str(saved_attention_model),
                 "--attention-plot", str(plot)]) == 0
    assert capsys.readouterr().out == "¿dónde está el baño?\n"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    source, target, weights = load_attention(saved_attention_model)
    assert source == ["where", "is", "the", "bathroom", "?"]
    assert target == ["¿", "dónde", "está", "el", "baño", "?", "</s>"]
    assert weights.shape == (7, 5) and np.allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    assert main(["translate", "hello", "--model", str(saved_model), "--attention-plot",
                 str(plot)]) == 2
    assert "--attention-plot needs an attention model" in one_line_error(capsys)


def load_attention(path: Path):
    from nlpia_lstm.translation.model import load_translator

    return load_translator(path).attention("Where is the bathroom?")


def test_cli_translate(saved_model, capsys):
    assert main(["translate", "Where", "is", "the", "bathroom?", "--model",
                 str(saved_model), "--beam", "3"]) == 0
    assert capsys.readouterr().out == "¿dónde está el baño?\n"
    assert main(["translate", "I am tired, Bob!", "--model", str(saved_model)]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        'nlpia-lstm: warning: unknown word(s) read as <unk>: ",", "bob"']


@pytest.mark.parametrize(("argv", "message"), [
    (["translate", "hello", "--model", "{missing}"], "no translator model at"),
    (["translate", "  ", "--model", "{model}"], "the input is empty"),
    (["translate", "--model", "{model}"], "the input is empty"),
    (["translate", "hello", "--model", "{nojson}"],
     "its settings file lonely.json is missing beside it"),
    (["translate", "-", "--model", "{model}", "--attention-plot", "{tmp}/a.png"],
     "--attention-plot draws one sentence"),
])
def test_cli_translate_errors_are_one_line(argv, message, saved_model, tmp_path, monkeypatch,
                                           capsys):
    nojson = tmp_path / "lonely.keras"
    nojson.write_bytes(saved_model.read_bytes())
    paths = {"missing": tmp_path / "missing.keras", "model": saved_model, "nojson": nojson,
             "tmp": tmp_path}
    monkeypatch.setattr(sys, "stdin", io.StringIO("hello\n"))
    assert main([a.format(**paths) for a in argv]) == 2
    assert message in one_line_error(capsys)
