"""The encoder-decoder: shapes, masking, greedy and beam decoding, BLEU, saving, ``translate``.

Everything runs on a handful of pairs that two tiny models overfit, without network access.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nlpia_lstm.cli import main
from nlpia_lstm.errors import ConfigError, DataError
from nlpia_lstm.translation.text import (
    PAD_ID,
    Vocabulary,
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


@pytest.fixture(scope="module")
def trained(tiny_data):
    """Both decoder variants overfitted on the six pairs (a few seconds each)."""
    import keras

    from nlpia_lstm.translation.model import Translator, build_model

    _, _, source_vocab, target_vocab, x, decoder_input, y = tiny_data
    translators = {}
    for variant in ("init", "every_step"):
        keras.utils.set_random_seed(0)
        model = build_model(len(source_vocab), len(target_vocab), variant=variant,
                            embedding_dim=16, units=16, encoder_layers=2, learning_rate=0.03)
        repeats = 8  # several steps per epoch: Keras's per-epoch overhead dominates otherwise
        model.fit([np.tile(x, (repeats, 1)), np.tile(decoder_input, (repeats, 1))],
                  np.tile(y, (repeats, 1)), batch_size=len(x), epochs=12, verbose=0)
        translators[variant] = Translator(model, source_vocab, target_vocab, max_output_tokens=10)
    return translators


def test_shapes_of_training_and_inference_models():
    from keras.ops import convert_to_numpy

    from nlpia_lstm.translation.model import build_model, inference_models

    for variant, decoder_inputs in (("init", 8), ("every_step", 8 + 2 * 5)):
        model = build_model(11, 13, variant=variant, embedding_dim=8, units=5, encoder_layers=3)
        out = convert_to_numpy(model([np.ones((2, 7), "int32"), np.ones((2, 4), "int32")]))
        assert out.shape == (2, 4, 13)
        assert np.allclose(out.sum(axis=-1), 1.0, atol=1e-5)
        # The context (10 = 2 x 5 units) reaches every decoder step only in "every_step".
        assert model.get_layer("decoder").weights[0].shape == (decoder_inputs, 4 * 10)
        assert sum("encoder_" in layer.name for layer in model.layers) == 3
        encoder, step = inference_models(model)
        h, c = (convert_to_numpy(t) for t in encoder(np.ones((2, 7), "int32")))
        assert h.shape == c.shape == (2, 10)
        inputs = [np.ones((2, 1), "int32"), h, c] + ([h] if variant == "every_step" else [])
        probs, h2, _ = step(inputs)
        assert probs.shape == (2, 1, 13) and h2.shape == (2, 10)
    with pytest.raises(ConfigError, match="variant"):
        build_model(11, 13, variant="attention")


@pytest.mark.parametrize("variant", ["init", "every_step"])
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


@pytest.mark.parametrize("variant", ["init", "every_step"])
def test_overfitted_model_translates_its_pairs_exactly(variant, trained, tiny_data):
    from nlpia_lstm.translation.model import bleu, token_accuracy

    _, targets, *_, x, decoder_input, y = tiny_data
    translator = trained[variant]
    assert token_accuracy(translator.model, x, decoder_input, y) == 1.0
    greedy = translator.greedy(x)
    assert greedy == targets
    assert [translator.beam(row, width=3) for row in x] == targets
    assert [translator.beam(row, width=1) for row in x] == greedy
    assert translator.translate("Where is the bathroom?", beam_width=3) == (
        "¿dónde está el baño?", [])
    assert bleu([[t] for t in targets if len(t) >= 4], [t for t in targets if len(t) >= 4]) \
        == pytest.approx(1.0)


def test_save_and_load_give_identical_translations(trained, tiny_data, tmp_path):
    from nlpia_lstm.translation.model import load_translator, save_translator

    x = tiny_data[4]
    for variant, translator in trained.items():
        path = save_translator(translator, tmp_path / f"{variant}.keras", settings={"name": "t"})
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        assert meta["format"] == "nlpia_lstm.translator/1" and meta["variant"] == variant
        assert meta["source_vocab"] == list(translator.source_vocab.tokens)
        assert meta["target_vocab"] == list(translator.target_vocab.tokens)
        assert (meta["max_output_tokens"], meta["settings"]) == (10, {"name": "t"})
        loaded = load_translator(path)
        assert loaded.variant == variant
        assert loaded.greedy(x) == translator.greedy(x)
        assert [loaded.beam(r, 3) for r in x] == [translator.beam(r, 3) for r in x]
        assert np.allclose(loaded.encoder.predict_on_batch(x)[0],
                           translator.encoder.predict_on_batch(x)[0])


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
])
def test_cli_translate_errors_are_one_line(argv, message, saved_model, tmp_path, capsys):
    nojson = tmp_path / "lonely.keras"
    nojson.write_bytes(saved_model.read_bytes())
    paths = {"missing": tmp_path / "missing.keras", "model": saved_model, "nojson": nojson}
    assert main([a.format(**paths) for a in argv]) == 2
    assert message in one_line_error(capsys)
