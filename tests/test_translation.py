"""English -> Spanish encoder-decoder: data handling, model, decoding, save/load and CLI.

Everything runs on a tiny generated parallel corpus, without network access.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nlpia_lstm.cli import main
from nlpia_lstm.errors import ConfigError, DataError
from nlpia_lstm.translation_data import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    Vocabulary,
    detokenize,
    encode_source,
    read_pairs,
    references,
    split_pairs,
    teacher_forcing,
    tokenize,
)
from nlpia_lstm.translation_experiment import load_config, parse_config

# A handful of pairs to overfit: accents, ñ, ü, ¿ ? and ¡ ! on the Spanish side.
TINY = [
    ("I am tired.", "Estoy cansado."),
    ("Where is the bathroom?", "¿Dónde está el baño?"),
    ("What a pity!", "¡Qué lástima!"),
    ("The green witch arrived.", "Llegó la bruja verde."),
    ("The boy sings.", "El niño canta."),
    ("I see a penguin.", "Veo un pingüino."),
]
SUBJECTS = [("I", "yo"), ("you", "tú"), ("he", "él"), ("she", "ella"), ("we", "nosotros"),
            ("they", "ellos")]
OBJECTS = [("bread", "pan"), ("water", "agua"), ("coffee", "café"), ("rice", "arroz"),
           ("a lemon", "un limón"), ("pineapple", "piña"), ("the cake", "el pastel")]


def generated_pairs() -> list[tuple[str, str]]:
    """42 English sentences, each with one or two Spanish translations (a second one with ¡!)."""
    pairs = []
    for i, (subject, sujeto) in enumerate(SUBJECTS):
        for j, (thing, cosa) in enumerate(OBJECTS):
            pairs.append((f"{subject.capitalize()} want {thing}.", f"{sujeto.capitalize()} "
                          f"quiere {cosa}."))
            if (i + j) % 2:
                pairs.append((f"{subject.capitalize()} want {thing}.", f"¡{sujeto.capitalize()} "
                              f"quiere {cosa}!"))
    return pairs


def write_zip(path: Path, pairs: list[tuple[str, str]]) -> Path:
    lines = "".join(f"{en}\t{es}\tCC-BY 2.0 (France) Attribution: tatoeba.org\n"
                    for en, es in pairs)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("spa-eng/spa.txt", lines)
        archive.writestr("spa-eng/_about.txt", "tiny test corpus\n")
    return path


# -- normalisation, tokenization, reading -------------------------------------------------


def test_tokenize_keeps_accents_and_splits_spanish_punctuation():
    assert tokenize("¿Dónde está el niño? ¡Qué pingüino!") == [
        "¿", "dónde", "está", "el", "niño", "?", "¡", "qué", "pingüino", "!"]
    assert tokenize("I don't know Tom's dog, 3.5 kg.") == [
        "i", "don't", "know", "tom's", "dog", ",", "3.5", "kg", "."]
    assert tokenize("Él llegó — «sí».") == ["él", "llegó", "—", '"', "sí", '"', "."]


def test_decomposed_accents_are_normalised_to_the_same_tokens():
    decomposed = unicodedata.normalize("NFD", "ESTÁ AQUÍ, MAÑANA")
    assert decomposed != unicodedata.normalize("NFC", decomposed)
    assert tokenize(decomposed) == ["está", "aquí", ",", "mañana"]


def test_detokenize_glues_punctuation_back():
    assert detokenize(tokenize("¿Dónde está el baño? ¡Sí, señor!")) == \
        "¿dónde está el baño? ¡sí, señor!"


def test_read_pairs_from_zip_and_text(tmp_path, monkeypatch):
    pairs = generated_pairs()
    archive = write_zip(tmp_path / "spa-eng.zip", pairs)
    assert read_pairs(archive) == pairs
    text = tmp_path / "spa.txt"
    text.write_text("Go.\tVe.\n\nHi.\tHola.\n", encoding="utf-8")
    assert read_pairs(text) == [("Go.", "Ve."), ("Hi.", "Hola.")]
    monkeypatch.setenv("NLPIA_LSTM_DATA", str(tmp_path))
    assert read_pairs(progress=False) == pairs


def test_read_pairs_rejects_bad_lines_and_missing_files(tmp_path):
    bad = tmp_path / "spa.txt"
    bad.write_text("Go.\tVe.\nno tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2"):
        read_pairs(bad)
    with pytest.raises(DataError, match="no English-Spanish pairs"):
        read_pairs(tmp_path / "nowhere")


# -- split and vocabulary -------------------------------------------------------------------


def test_split_never_shares_an_english_sentence():
    pairs = generated_pairs()
    splits = split_pairs(pairs, val_fraction=0.2, test_fraction=0.2, seed=3)
    sources = [{s for s, _ in part} for part in (splits.train, splits.val, splits.test)]
    assert not (sources[0] & sources[1] or sources[0] & sources[2] or sources[1] & sources[2])
    assert len(splits.train) + len(splits.val) + len(splits.test) == len(pairs)
    # Both translations of a two-translation sentence stay together.
    _, refs = references(splits.test)
    assert sorted(len(r) for r in refs)[-1] == 2
    assert split_pairs(pairs, val_fraction=0.2, test_fraction=0.2, seed=3) == splits
    assert split_pairs(pairs, val_fraction=0.2, test_fraction=0.2, seed=4) != splits


def test_split_limits_length_and_count():
    pairs = generated_pairs() + [("This sentence is far too long to keep here.", "No.")]
    splits = split_pairs(pairs, max_tokens=5, max_pairs=20, seed=0)
    kept = splits.train + splits.val + splits.test
    assert all(len(s) <= 5 and len(t) <= 5 for s, t in kept)
    assert 20 <= len(kept) <= 21  # whole groups: the last may bring a second translation
    with pytest.raises(DataError, match="too few"):
        split_pairs(pairs[:2], seed=0)


def test_vocabulary_specials_and_unknown_words():
    vocab = Vocabulary.build([["¿", "qué", "?"], ["qué", "tal"]], min_count=1)
    assert vocab.tokens[:4] == ("<pad>", "<unk>", "<s>", "</s>")
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)
    assert vocab.tokens[4] == "qué"  # the most frequent first
    assert vocab.ids(["qué", "bruja"]) == [4, UNK_ID]
    assert vocab.unknown(["qué", "bruja"]) == ["bruja"]
    assert vocab.words([BOS_ID, 4, EOS_ID, 5]) == ["qué"]
    assert len(Vocabulary.build([["a", "a", "b"]], min_count=2)) == 5


def test_teacher_forcing_feeds_the_gold_previous_token():
    vocab = Vocabulary.build([["soy", "tom", "."], ["hola", "."]])
    inputs, targets = teacher_forcing([["soy", "tom", "."], ["hola", "."]], vocab)
    ids = vocab.ids(["soy", "tom", "."])
    assert inputs.shape == targets.shape == (2, 4)
    assert inputs[0].tolist() == [BOS_ID] + ids
    assert targets[0].tolist() == ids + [EOS_ID]
    # The decoder input is the target shifted right by one, behind <s>.
    assert (inputs[:, 1:] == np.where(targets[:, :-1] == EOS_ID, PAD_ID, targets[:, :-1])).all()
    assert targets[1].tolist() == vocab.ids(["hola", "."]) + [EOS_ID, PAD_ID]
    assert encode_source([["tom"], ["soy", "tom"]], vocab).tolist() == [
        [vocab.ids(["tom"])[0], PAD_ID], vocab.ids(["soy", "tom"])]


def test_data_and_config_modules_do_not_import_keras():
    code = ("import sys, nlpia_lstm.translation_data, nlpia_lstm.translation_experiment; "
            "sys.exit('keras' in sys.modules or 'tensorflow' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# -- config -----------------------------------------------------------------------------------


def test_config_defaults_and_errors(tmp_path):
    exp = parse_config({"name": "t", "model": {"variants": "every_step"}, "data": {
        "path": "pairs.zip"}}, base=tmp_path)
    assert exp.model.variants == ("every_step",)
    assert exp.data.path == str(tmp_path / "pairs.zip")
    assert exp.decoding.beam_width == 4
    for raw, message in [
        ({"name": "t", "model": {"variants": ["attention"]}}, "variants"),
        ({"name": "t", "training": {"epochs": 0}}, "positive"),
        ({"name": "t", "training": {"epoch": 3}}, "unknown key"),
        ({"name": "t", "data": {"test_fraction": 0.6, "val_fraction": 0.5}}, "sum"),
        ({"model": {}}, "needs a name"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_config(raw)
    with pytest.raises(ConfigError, match="no config file"):
        load_config(tmp_path / "missing.toml")


def test_repository_config_is_valid():
    exp = load_config(Path(__file__).resolve().parents[1] / "experiments" / "translate_spa.toml")
    assert set(exp.model.variants) == {"init", "every_step"}


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

    from nlpia_lstm.translation import Translator, build_model

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

    from nlpia_lstm.translation import build_model, inference_models

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

    from nlpia_lstm.translation import inference_models

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
    from nlpia_lstm.translation import bleu, token_accuracy

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
    from nlpia_lstm.translation import load_translator, save_translator

    x = tiny_data[4]
    for variant, translator in trained.items():
        path = save_translator(translator, tmp_path / f"{variant}.keras")
        assert path.with_suffix(".json").is_file()
        loaded = load_translator(path)
        assert loaded.variant == variant
        assert loaded.greedy(x) == translator.greedy(x)
        assert [loaded.beam(r, 3) for r in x] == [translator.beam(r, 3) for r in x]
        assert np.allclose(loaded.encoder.predict_on_batch(x)[0],
                           translator.encoder.predict_on_batch(x)[0])


def test_unknown_words_are_reported(trained):
    text, unknown = trained["init"].translate("The green witch arrived, Bob.")
    assert unknown == [",", "bob"]
    assert isinstance(text, str)
    with pytest.raises(DataError, match="empty"):
        trained["init"].translate("  ")


# -- command line -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_model(trained, tmp_path_factory) -> Path:
    from nlpia_lstm.translation import save_translator

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
    (["translate", "hello", "--model", "{missing}"], "no translation model at"),
    (["translate", "  ", "--model", "{model}"], "the input is empty"),
    (["translate", "--model", "{model}"], "the input is empty"),
    (["translate", "hello", "--model", "{model}", "--beam", "0"], "--beam must be"),
    (["translate", "hello", "--model", "{nojson}"], "are missing beside it"),
])
def test_cli_translate_errors_are_one_line(argv, message, saved_model, tmp_path, capsys):
    nojson = tmp_path / "lonely.keras"
    nojson.write_bytes(saved_model.read_bytes())
    paths = {"missing": tmp_path / "missing.keras", "model": saved_model, "nojson": nojson}
    assert main([a.format(**paths) for a in argv]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err
    assert "Traceback" not in err


def test_cli_train_translator_writes_rows_and_models(tmp_path, capsys):
    data = write_zip(tmp_path / "spa-eng.zip", generated_pairs())
    config = tmp_path / "tiny.toml"
    config.write_text('name = "tiny"\n[data]\nmin_count = 1\nval_fraction = 0.2\n'
                      'test_fraction = 0.2\n[model]\nembedding_dim = 8\nunits = 8\n'
                      'encoder_layers = 1\n[training]\nepochs = 1\nbatch_size = 16\n'
                      '[decoding]\nbeam_width = 2\nmax_output_tokens = 8\nexamples = 2\n',
                      encoding="utf-8")
    argv = ["train-translator", str(config), "--data", str(data), "--results-dir",
            str(tmp_path / "results"), "--models-dir", str(tmp_path / "models"), "--quiet"]
    assert main(argv) == 0
    with open(tmp_path / "results" / "tiny.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["variant"], r["decoding"], r["beam_width"]) for r in rows] == [
        ("init", "greedy", "1"), ("init", "beam", "2"),
        ("every_step", "greedy", "1"), ("every_step", "beam", "2")]
    assert all(0.0 <= float(r["bleu"]) <= 1.0 and int(r["n_test"]) > 0 for r in rows)
    assert (tmp_path / "models" / "tiny-every_step.keras").is_file()
    assert (tmp_path / "models" / "tiny-init.json").is_file()
    capsys.readouterr()
    assert main(argv[:-1]) == 0
    assert "[init] already in" in capsys.readouterr().out
    with open(tmp_path / "results" / "tiny.csv", newline="", encoding="utf-8") as f:
        assert list(csv.DictReader(f)) == rows
    assert main(["train-translator", str(tmp_path / "none.toml")]) == 2
    assert "no config file" in capsys.readouterr().err
