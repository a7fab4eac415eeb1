"""The chapter's own utilities, word level and character level, under the chapter's names."""

import numpy as np
import pytest

from nlpia_lstm.errors import DataError
from nlpia_lstm.preprocessing import (
    PAD,
    UNK,
    VALID_CHARS,
    char_pad_trunc,
    clean_data,
    collect_expected,
    create_dicts,
    onehot_encode,
    pad_trunc,
    pre_process_data,
    tokenize_and_vectorize,
)
from nlpia_lstm.vectors import load_word_vectors

from conftest import CHAR_DATASET, CHAR_MAXLEN, CHAR_TEXTS

# --- word level ------------------------------------------------------------------------------


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


# --- character level -------------------------------------------------------------------------


def test_clean_data_lowercases_and_marks_unknown_characters():
    assert clean_data([(1, "Hi, Bob!\n")]) == [["h", "i", ",", " ", "b", "o", "b", "!", UNK]]
    assert all(c in set(VALID_CHARS) | {UNK} for sample in clean_data(CHAR_DATASET) for c in sample)


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
    tokens = char_pad_trunc(clean_data(CHAR_DATASET), CHAR_MAXLEN)
    char_indices, _ = create_dicts(tokens)
    x = onehot_encode(tokens, char_indices, CHAR_MAXLEN)
    assert x.shape == (len(CHAR_TEXTS), CHAR_MAXLEN, len(char_indices))
    assert x.dtype == np.float32
    assert (x.sum(-1) == 1).all()
    assert (x[0, :, char_indices[PAD]] == 1).all()  # empty text: all PAD
    assert (x[1, :5, char_indices[UNK]] == 1).all()  # only unknown characters
    assert x[2].argmax(-1).tolist() == [char_indices[c] for c in "abcdefghijkl"]
    # A token the dicts never saw is UNK; a sample longer than maxlen is refused.
    assert onehot_encode([["z"]], {PAD: 0, UNK: 1}, 1)[0, 0].tolist() == [0, 1]
    with pytest.raises(DataError, match="char_pad_trunc"):
        onehot_encode([list("abc")], char_indices, 2)
