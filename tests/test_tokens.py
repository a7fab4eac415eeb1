"""Token ids, the lean path to model input: the chapter's exact input, tokenized once, cached."""

import numpy as np
import pytest

from nlpia_lstm import data, tokens
from nlpia_lstm.errors import DataError
from nlpia_lstm.preprocessing import (
    PAD,
    UNK,
    char_pad_trunc,
    clean_data,
    create_dicts,
    onehot_encode,
    pad_trunc,
    pre_process_data,
    tokenize_and_vectorize,
)
from nlpia_lstm.tokens import TokenizedCorpus, char_ids, ids_matrix, tokenize_corpus
from nlpia_lstm.vectors import embedding_matrix, load_word_vectors

from conftest import CHAR_DATASET, CHAR_MAXLEN, CHAR_TEXTS


def test_id_path_gives_the_chapters_exact_model_input(imdb_folder, word2vec_file):
    """Frozen Embedding lookup of ids_matrix == the chapter's padded dense vectors."""
    dataset = pre_process_data(imdb_folder / "train", seed=0)
    dataset += [(1, "great"), (0, " ".join(["dull", "zzz"] * 30)), (0, "")]
    kv = load_word_vectors(word2vec_file)
    dense = pad_trunc(tokenize_and_vectorize(dataset, kv), maxlen=16)
    matrix, key_to_row = embedding_matrix(kv)
    ids = ids_matrix(tokenize_corpus(dataset, n_jobs=1), key_to_row, maxlen=16)
    assert ids.dtype == np.int32 and ids.shape == (83, 16)
    np.testing.assert_array_equal(matrix[ids], dense)
    assert ids[-3].tolist() == [key_to_row["great"]] + [0] * 15
    assert ids[-2].tolist() == [key_to_row["dull"]] * 16 and not ids[-1].any()
    with pytest.raises(DataError, match="maxlen"):
        ids_matrix(tokenize_corpus(dataset[:1], n_jobs=1), key_to_row, maxlen=0)


def test_parallel_tokenizing_matches_serial(imdb_folder):
    dataset = pre_process_data(imdb_folder / "train", seed=0) * 20
    serial = list(tokens.tokenize((t for _, t in dataset), n_jobs=1))
    parallel = list(tokens.tokenize((t for _, t in dataset), n_jobs=2))
    assert serial == parallel and len(serial) == 1600


def test_tokenized_corpus_round_trip_and_subset(tmp_path):
    corpus = tokenize_corpus([(1, "Good film."), (0, ""), (0, "Bad, bad film")], n_jobs=1)
    assert len(corpus) == 3 and corpus.tokens(1) == []
    assert corpus.tokens(2) == ["Bad", ",", "bad", "film"]
    corpus.save(tmp_path / "c.npz")
    loaded = TokenizedCorpus.load(tmp_path / "c.npz")
    assert list(loaded) == list(corpus) and loaded.labels.tolist() == [1, 0, 0]
    sub = corpus.subset([2, 0])
    assert list(sub) == [corpus.tokens(2), corpus.tokens(0)] and sub.labels.tolist() == [0, 1]


def test_corrupt_token_cache(tmp_path):
    (tmp_path / "c.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match="corrupt token cache"):
        TokenizedCorpus.load(tmp_path / "c.npz")


def test_imdb_tokens_are_cached(imdb_archive, monkeypatch, isolated_cache):
    first = tokens.load_imdb_tokens(imdb_archive, ("train", "test"))
    assert len(first["train"]) == 80 and len(first["test"]) == 40
    assert len(list((isolated_cache / "tokens").glob("imdb-*.npz"))) == 2

    def must_not_read(*args, **kwargs):
        raise AssertionError("the cache should have served this")

    monkeypatch.setattr(data, "read_imdb", must_not_read)
    again = tokens.load_imdb_tokens(imdb_archive, ("train",))
    assert list(again["train"]) == list(first["train"])


def test_cache_key_is_stable_and_follows_its_parts():
    key = tokens.cache_key(source={"sha256": "ab"}, split="train")
    assert key == tokens.cache_key(split="train", source={"sha256": "ab"}) and len(key) == 16
    assert key != tokens.cache_key(source={"sha256": "ab"}, split="test")


def test_char_ids_equal_the_onehot_path():
    chars = char_pad_trunc(clean_data(CHAR_DATASET), CHAR_MAXLEN)
    char_indices, _ = create_dicts(chars)
    onehot = onehot_encode(chars, char_indices, CHAR_MAXLEN)
    ids = char_ids(CHAR_DATASET, char_indices, CHAR_MAXLEN)
    assert ids.shape == (len(CHAR_TEXTS), CHAR_MAXLEN) and ids.dtype == np.int32
    np.testing.assert_array_equal(ids, onehot.argmax(-1))
    np.testing.assert_array_equal(np.eye(len(char_indices), dtype=np.float32)[ids], onehot)


def test_char_ids_checks_its_arguments():
    with pytest.raises(DataError, match="maxlen"):
        char_ids(CHAR_DATASET, {PAD: 0, UNK: 1}, 0)
    with pytest.raises(DataError, match="needs a 'PAD' entry"):
        char_ids(CHAR_DATASET, {UNK: 0}, CHAR_MAXLEN)
    with pytest.raises(DataError, match="only ASCII"):
        char_ids(CHAR_DATASET, {PAD: 0, UNK: 1}, CHAR_MAXLEN, valid="ab\u00e9")
