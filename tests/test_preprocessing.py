import subprocess
import sys

import numpy as np
import pytest

from nlpia_lstm import data, preprocessing
from nlpia_lstm.errors import DataError
from nlpia_lstm.preprocessing import (
    TokenizedCorpus,
    collect_expected,
    ids_matrix,
    pad_trunc,
    pre_process_data,
    tokenize_and_vectorize,
    tokenize_corpus,
)
from nlpia_lstm.vectors import embedding_matrix, load_word_vectors


def test_pre_process_data_reads_both_labels_shuffled(imdb_folder):
    dataset = pre_process_data(imdb_folder / "train", seed=1)
    assert len(dataset) == 80
    labels = collect_expected(dataset)
    assert sorted(set(labels)) == [0, 1] and labels[:40] != [1] * 40
    assert pre_process_data(imdb_folder / "train", seed=1) == dataset


def test_pre_process_data_on_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no reviews"):
        pre_process_data(tmp_path)


def test_tokenize_and_vectorize_drops_unknown_tokens(word2vec_file):
    kv = load_word_vectors(word2vec_file)
    vectors = tokenize_and_vectorize([(1, "The movie was great, zzzunknown!")], kv)
    assert len(vectors) == 1
    assert [v.tolist() for v in vectors[0]] == [kv[w].tolist() for w in ("The", "movie", "was",
                                                                         "great")]


def test_pad_trunc_pads_at_end_and_truncates():
    a = [np.ones(3), 2 * np.ones(3)]
    out = pad_trunc([a, [np.ones(3)] * 5, []], maxlen=4)
    assert out.shape == (3, 4, 3) and out.dtype == np.float32
    assert out[0, :2].tolist() == [[1, 1, 1], [2, 2, 2]] and not out[0, 2:].any()
    assert out[1].tolist() == [[1, 1, 1]] * 4
    assert not out[2].any()
    assert len(a) == 2, "the input samples must not be changed"


def test_pad_trunc_edge_cases():
    with pytest.raises(DataError, match="embedding_dims"):
        pad_trunc([[], []], maxlen=3)
    assert pad_trunc([[], []], maxlen=3, embedding_dims=2).shape == (2, 3, 2)
    exact = pad_trunc([[np.ones(2)] * 3], maxlen=3)
    assert exact.tolist() == [[[1, 1]] * 3]
    with pytest.raises(DataError, match="maxlen"):
        pad_trunc([[np.ones(2)]], maxlen=0)


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


def test_parallel_tokenizing_matches_serial(imdb_folder):
    dataset = pre_process_data(imdb_folder / "train", seed=0) * 20
    serial = list(preprocessing.tokenize((t for _, t in dataset), n_jobs=1))
    parallel = list(preprocessing.tokenize((t for _, t in dataset), n_jobs=2))
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


def test_imdb_tokens_are_cached(imdb_archive, monkeypatch):
    first = preprocessing.load_imdb_tokens(imdb_archive, ("train", "test"))
    assert len(first["train"]) == 80 and len(first["test"]) == 40

    def must_not_read(*args, **kwargs):
        raise AssertionError("the cache should have served this")

    monkeypatch.setattr(data, "read_imdb", must_not_read)
    again = preprocessing.load_imdb_tokens(imdb_archive, ("train",))
    assert list(again["train"]) == list(first["train"])


def test_light_modules_do_not_import_tensorflow():
    code = ("import sys, nlpia_lstm.preprocessing, nlpia_lstm.data, nlpia_lstm.vectors, "
            "nlpia_lstm.config, nlpia_lstm.grid; "
            "print(any(m in sys.modules for m in ('tensorflow', 'keras', 'jax')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
