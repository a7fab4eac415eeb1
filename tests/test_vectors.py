import numpy as np
import pytest

from nlpia_lstm.errors import DataError
from nlpia_lstm.vectors import (
    embedding_matrix,
    load_word_vectors,
    save_word_vectors,
    train_word2vec,
)


def test_load_binary_and_text_with_limit(word2vec_file, tmp_path):
    kv = load_word_vectors(word2vec_file)
    assert kv.vector_size == 8 and "great" in kv
    text_file = tmp_path / "vectors.txt"
    kv.save_word2vec_format(str(text_file), binary=False)
    as_text = load_word_vectors(text_file, limit=5)
    assert len(as_text) == 5 and as_text.index_to_key == kv.index_to_key[:5]
    first = kv.index_to_key[0]
    np.testing.assert_allclose(as_text[first], kv[first], atol=1e-5)


def test_gzipped_binary_like_googlenews(word2vec_file, tmp_path):
    import gzip

    gz = tmp_path / "GoogleNews-like.bin.gz"
    gz.write_bytes(gzip.compress(word2vec_file.read_bytes()))
    assert load_word_vectors(gz, limit=3).index_to_key == load_word_vectors(word2vec_file,
                                                                             limit=3).index_to_key


def test_unreadable_vectors_are_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="no word vectors file"):
        load_word_vectors(tmp_path / "missing.bin")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a word2vec file at all\n\x00\x01")
    with pytest.raises(DataError, match="not a readable word2vec"):
        load_word_vectors(junk)
    with pytest.raises(DataError, match="limit"):
        load_word_vectors(junk, limit=0)


def test_word2vec_is_repeatable_with_a_seed(tmp_path):
    corpus = [["good", "film", "great", "acting"], ["bad", "film", "awful", "plot"]] * 30
    a = train_word2vec(corpus, vector_size=6, min_count=1, epochs=2, seed=1)
    b = train_word2vec(corpus[:30], corpus[30:], vector_size=6, min_count=1, epochs=2, seed=1)
    assert a.index_to_key == b.index_to_key
    np.testing.assert_array_equal(a.vectors, b.vectors)
    save_word_vectors(a, tmp_path / "w.bin")
    np.testing.assert_array_equal(load_word_vectors(tmp_path / "w.bin").vectors, a.vectors)


def test_word2vec_on_too_little_text():
    with pytest.raises(DataError, match="too little text"):
        train_word2vec([["once"]], vector_size=4, min_count=5)


def test_embedding_matrix_has_zero_padding_row(word2vec_file):
    kv = load_word_vectors(word2vec_file)
    matrix, key_to_row = embedding_matrix(kv)
    assert matrix.shape == (len(kv) + 1, 8) and not matrix[0].any()
    np.testing.assert_array_equal(matrix[key_to_row["great"]], kv["great"])
