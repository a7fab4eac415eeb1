"""A grid's model inputs: IMDB read, split and encoded once, word ids or character ids."""

import dataclasses

import numpy as np
import pytest

from nlpia_lstm import data, inputs
from nlpia_lstm.config import load_config, parse_config
from nlpia_lstm.errors import ConfigError
from nlpia_lstm.inputs import prepare_inputs
from nlpia_lstm.preprocessing import PAD, UNK, VALID_CHARS
from nlpia_lstm.tokens import char_ids, ids_matrix, load_imdb_tokens
from nlpia_lstm.vectors import load_word_vectors

from conftest import tiny_config


def test_word_inputs_from_a_vectors_file(tmp_path, imdb_archive, word2vec_file):
    exp = load_config(tiny_config(tmp_path, imdb_archive, word2vec_file))
    prepared = prepare_inputs(exp)
    x = prepared.inputs
    kv = load_word_vectors(word2vec_file)
    assert prepared.level == "word" and prepared.words == kv.index_to_key
    assert x.embeddings.shape == (len(kv) + 1, 8) and not x.embeddings[0].any()
    np.testing.assert_array_equal(x.embeddings[1 + prepared.words.index("great")], kv["great"])
    assert prepared.provenance == {"vectors": "tiny-vectors.bin (limit 200000)",
                                   "data": "aclImdb_v1.tar.gz", "split_seed": 0,
                                   "n_train": 64, "n_val": 16, "n_test": 40}
    assert (x.x_train.shape, x.x_val.shape, x.x_test.shape) == ((64, 20), (16, 20), (40, 20))
    assert x.x_train.dtype == np.int32 and x.y_train.dtype == np.float32
    # The rows are the split's reviews as ids into the embedding matrix, labels beside them.
    reviews = load_imdb_tokens(imdb_archive, ("train", "test"))
    train_idx, val_idx = data.shuffle_split(range(80), 0.2, seed=0)
    key_to_row = {word: i + 1 for i, word in enumerate(prepared.words)}
    for ids, labels, corpus in ((x.x_train, x.y_train, reviews["train"].subset(train_idx)),
                                (x.x_val, x.y_val, reviews["train"].subset(val_idx)),
                                (x.x_test, x.y_test, reviews["test"])):
        np.testing.assert_array_equal(ids, ids_matrix(corpus, key_to_row, 20))
        np.testing.assert_array_equal(labels, corpus.labels)


def test_limits_and_no_test_split(tmp_path, imdb_folder, word2vec_file):
    exp = load_config(tiny_config(tmp_path, imdb_folder, word2vec_file))
    limited = dataclasses.replace(exp, data=dataclasses.replace(exp.data, max_reviews=40,
                                                                max_test=10))
    prepared = prepare_inputs(limited)
    assert [prepared.provenance[k] for k in ("n_train", "n_val", "n_test")] == [32, 8, 10]
    assert prepared.provenance["data"] == "aclImdb"
    assert len(prepared.inputs.x_test) == 10
    untested = dataclasses.replace(exp, data=dataclasses.replace(exp.data, score_test=False))
    prepared = prepare_inputs(untested)
    assert prepared.inputs.x_test is None and prepared.inputs.y_test is None
    assert prepared.provenance["n_test"] == ""


def test_default_vectors_are_word2vec_trained_on_training_texts(tmp_path, imdb_folder,
                                                                 isolated_cache, monkeypatch):
    exp = load_config(tiny_config(tmp_path, imdb_folder))
    first = prepare_inputs(exp)
    assert first.provenance["vectors"].startswith(
        "word2vec 8d trained on IMDB train portion + unsup")
    assert list((isolated_cache / "vectors").glob("word2vec-imdb-*.bin"))
    assert first.inputs.embeddings.shape[1] == 8

    def must_not_train(*args, **kwargs):
        raise AssertionError("the cached vectors should have served this")

    monkeypatch.setattr(inputs, "train_word2vec", must_not_train)
    again = prepare_inputs(exp)
    np.testing.assert_array_equal(again.inputs.embeddings, first.inputs.embeddings)
    assert again.provenance == first.provenance


def _char_experiment(path, **data_settings):
    return parse_config({"name": "c", "data": {"level": "char", "path": str(path),
                                               "score_test": True, **data_settings},
                         "training": {"maxlen": 40}, "models": [{"arch": "lstm", "units": 2}]})


def test_char_inputs_are_the_chapters_one_hot_as_ids(imdb_folder):
    prepared = prepare_inputs(_char_experiment(imdb_folder))
    x, symbols = prepared.inputs, prepared.words
    assert prepared.level == "char"
    assert symbols[:2] == [PAD, UNK] and set(symbols[2:]) <= set(VALID_CHARS)
    np.testing.assert_array_equal(x.embeddings, np.eye(len(symbols), dtype="float32"))
    assert (x.x_train.shape, x.x_val.shape, x.x_test.shape) == ((64, 40), (16, 40), (40, 40))
    assert prepared.provenance["vectors"] == f"one-hot chars ({len(symbols)} symbols)"
    reviews = data.read_imdb(imdb_folder, ("train",), progress=False)["train"]
    train_idx, _ = data.shuffle_split(range(80), 0.2, seed=0)
    train = [reviews[i] for i in train_idx]
    char_indices = {c: i for i, c in enumerate(symbols)}
    np.testing.assert_array_equal(x.x_train, char_ids(train, char_indices, 40))
    np.testing.assert_array_equal(x.y_train, [label for label, _ in train])


def test_char_inputs_with_own_characters_and_no_word_vectors(imdb_folder, word2vec_file):
    prepared = prepare_inputs(_char_experiment(imdb_folder, valid_chars="aeiou "))
    assert set(prepared.words[2:]) <= set("aeiou ")
    assert prepared.provenance["vectors"].endswith(", valid 'aeiou '")
    exp = _char_experiment(imdb_folder)
    exp = dataclasses.replace(exp, vectors=dataclasses.replace(exp.vectors,
                                                               path=str(word2vec_file)))
    with pytest.raises(ConfigError, match="word vectors do not apply"):
        prepare_inputs(exp)
