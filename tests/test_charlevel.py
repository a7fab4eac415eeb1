"""Character-level sentiment: the chapter's utilities, the lean id path, and a tiny char grid."""

import csv
import json

import numpy as np
import pytest

from nlpia_lstm import cli
from nlpia_lstm.config import parse_config
from nlpia_lstm.errors import ConfigError, DataError
from nlpia_lstm.preprocessing import (
    PAD,
    UNK,
    VALID_CHARS,
    char_ids,
    char_pad_trunc,
    clean_data,
    create_dicts,
    onehot_encode,
)

MAXLEN = 12
# Edge cases side by side: empty, only unknown characters, exactly MAXLEN, longer, and
# "İ", whose lower case is two code points (so lower-casing comes before the cut).
TEXTS = ["", "\u00e9\u00fc\t\u2014\n", "abcdefghijkl", "Great movie, I LOVED it!!! 10/10",
         "\u0130stanbul?"]
DATASET = [(i % 2, text) for i, text in enumerate(TEXTS)]


def test_clean_data_lowercases_and_marks_unknown_characters():
    assert clean_data([(1, "Hi, Bob!\n")]) == [["h", "i", ",", " ", "b", "o", "b", "!", UNK]]
    assert all(c in set(VALID_CHARS) | {UNK} for sample in clean_data(DATASET) for c in sample)


def test_clean_data_edge_cases():
    empty, unknown = clean_data([(0, ""), (1, "\u00e9\u00fc\t\u2014")])
    assert empty == []
    assert unknown == [UNK] * 4
    with pytest.raises(DataError, match="not a \\(label, text\\) pair"):
        clean_data(["a bare string"])


def test_char_pad_trunc_pads_cuts_and_keeps_exact_length():
    exact = list("abcde")
    padded, cut, kept, empty = char_pad_trunc([list("ab"), list("abcdefg"), exact, []], 5)
    assert padded == ["a", "b", PAD, PAD, PAD]
    assert cut == list("abcde")
    assert kept == exact and kept is not exact
    assert empty == [PAD] * 5
    with pytest.raises(DataError, match="maxlen"):
        char_pad_trunc([exact], 0)


def test_create_dicts_is_deterministic_with_pad_and_unk_first():
    char_indices, indices_char = create_dicts([["b", "a", UNK], ["c", PAD]])
    assert char_indices == {PAD: 0, UNK: 1, "a": 2, "b": 3, "c": 4}
    assert indices_char == {i: c for c, i in char_indices.items()}
    assert create_dicts([[]])[0] == {PAD: 0, UNK: 1}


def test_onehot_encode_shape_and_rows():
    tokens = char_pad_trunc(clean_data(DATASET), MAXLEN)
    char_indices, _ = create_dicts(tokens)
    x = onehot_encode(tokens, char_indices, MAXLEN)
    assert x.shape == (len(TEXTS), MAXLEN, len(char_indices))
    assert x.dtype == np.float32
    assert (x.sum(-1) == 1).all()
    assert (x[0, :, char_indices[PAD]] == 1).all()  # empty text: all PAD
    assert (x[1, :5, char_indices[UNK]] == 1).all()  # only unknown characters
    assert x[2].argmax(-1).tolist() == [char_indices[c] for c in "abcdefghijkl"]
    # A token the dicts never saw is UNK; a sample longer than maxlen is refused.
    assert onehot_encode([["z"]], {PAD: 0, UNK: 1}, 1)[0, 0].tolist() == [0, 1]
    with pytest.raises(DataError, match="char_pad_trunc"):
        onehot_encode([list("abc")], char_indices, 2)


def test_char_ids_equal_the_onehot_path():
    tokens = char_pad_trunc(clean_data(DATASET), MAXLEN)
    char_indices, _ = create_dicts(tokens)
    onehot = onehot_encode(tokens, char_indices, MAXLEN)
    ids = char_ids(DATASET, char_indices, MAXLEN)
    assert ids.shape == (len(TEXTS), MAXLEN) and ids.dtype == np.int32
    np.testing.assert_array_equal(ids, onehot.argmax(-1))
    np.testing.assert_array_equal(np.eye(len(char_indices), dtype=np.float32)[ids], onehot)


def test_identity_embedding_model_matches_onehot_model():
    import keras

    from nlpia_lstm.models import build_model

    tokens = char_pad_trunc(clean_data(DATASET), MAXLEN)
    char_indices, _ = create_dicts(tokens)
    n = len(char_indices)
    onehot = onehot_encode(tokens, char_indices, MAXLEN)
    ids = char_ids(DATASET, char_indices, MAXLEN)

    embedding = keras.layers.Embedding(n, n, weights=[np.eye(n, dtype="float32")],
                                       trainable=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(embedding(ids)), onehot)

    keras.utils.set_random_seed(0)
    lean = build_model("lstm", 4, MAXLEN, n, np.eye(n, dtype="float32"))
    dense = build_model("lstm", 4, MAXLEN, n, None)
    for target, source in zip(dense.layers, lean.layers[1:], strict=True):
        target.set_weights(source.get_weights())
    np.testing.assert_allclose(lean.predict(ids, verbose=0), dense.predict(onehot, verbose=0),
                               atol=1e-6)


def _config(**data) -> dict:
    return {"name": "c", "data": {"level": "char", **data}, "models": [{"arch": "lstm",
                                                                        "units": 2}]}


def test_char_level_config_validation():
    word = parse_config({"name": "w", "models": [{"arch": "lstm", "units": 2}]})
    assert word.data.level == "word" and word.data.valid_chars is None
    assert parse_config(_config()).data.level == "char"
    with pytest.raises(ConfigError, match="data.level"):
        parse_config(_config() | {"data": {"level": "chars"}})
    with pytest.raises(ConfigError, match="vectors"):
        parse_config(_config() | {"vectors": {"limit": 10}})
    with pytest.raises(ConfigError, match="valid_chars"):
        parse_config({"name": "w", "data": {"valid_chars": "ab"},
                      "models": [{"arch": "lstm", "units": 2}]})
    with pytest.raises(ConfigError, match="ASCII"):
        parse_config(_config(valid_chars="\u00e9"))


def _write_reviews(folder, split: str, n: int) -> None:
    for label, words in (("pos", "great fun, loved it! "), ("neg", "awful; dull... hated it ")):
        (folder / split / label).mkdir(parents=True)
        for i in range(n):
            (folder / split / label / f"{i}_7.txt").write_text(words * (i % 4 + 1),
                                                               encoding="utf-8")


@pytest.fixture
def tiny_imdb(tmp_path, monkeypatch):
    monkeypatch.setenv("NLPIA_LSTM_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "aclImdb"
    _write_reviews(folder, "train", 8)
    _write_reviews(folder, "test", 3)
    return folder


def test_char_grid_through_the_cli(tiny_imdb, tmp_path, capsys):
    cfg = tmp_path / "char.toml"
    cfg.write_text(f"""
name = "tiny_char"
seeds = [0]
[data]
level = "char"
path = "{tiny_imdb}"
val_fraction = 0.25
score_test = true
[training]
epochs = 1
batch_size = 4
maxlen = 40
[[models]]
arch = ["lstm", "gru"]
units = [3]
""")
    results, models = tmp_path / "results", tmp_path / "models"
    argv = ["grid", str(cfg), "--results-dir", str(results), "--quiet"]
    assert cli.main(argv + ["--save-models", str(models)]) == 0
    from nlpia_lstm.grid import COLUMNS

    with open(results / "tiny_char.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == COLUMNS
    assert [r["arch"] for r in rows] == ["lstm", "gru"]
    for row in rows:
        assert row["vectors"].startswith("one-hot chars (") and row["vectors"].endswith("symbols)")
        assert (row["maxlen"], row["n_train"], row["n_val"], row["n_test"]) == ("40", "12", "4",
                                                                                "6")
        assert 0.0 <= float(row["val_acc"]) <= 1.0 and row["test_acc"] != ""
    symbols = json.loads((models / "tiny_char-lstm-3-seed0.chars.json").read_text())
    assert symbols[:2] == [PAD, UNK] and set(symbols[2:]) <= set(VALID_CHARS)
    assert str(len(symbols)) in rows[0]["vectors"]

    # A rerun finds both cells done; the report reads the char CSV like any other.
    assert cli.main(argv) == 0
    with open(results / "tiny_char.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 2
    assert cli.main(["report", str(results / "tiny_char.csv")]) == 0
    assert (results / "tiny_char.md").is_file()

    # Word vectors make no sense for characters: one line, exit 2.
    capsys.readouterr()
    assert cli.main(argv + ["--vectors", str(tmp_path / "w2v.bin")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "char" in err
