"""English-Spanish text as the translator reads it: tokens, splits, vocabularies, id arrays."""

from __future__ import annotations

import pickle
import subprocess
import sys
import unicodedata

import numpy as np
import pytest

from nlpia_lstm.errors import DataError
from nlpia_lstm.translation.text import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    SentencePieceVocabulary,
    Vocabulary,
    build_vocabularies,
    detokenize,
    encode_source,
    normalize,
    references,
    split_pairs,
    teacher_forcing,
    tokenize,
    vocabulary_from_json,
)

from conftest import generated_pairs, subprocess_env

# -- normalisation and tokenization ---------------------------------------------------------


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


def test_normalize_straightens_quotes_and_keeps_accents():
    assert normalize("  \u2018Qu\u00c9\u2019 \u201cS\u00cd\u201d ") == "'qué' \"sí\""


def test_detokenize_glues_punctuation_back():
    assert detokenize(tokenize("¿Dónde está el baño? ¡Sí, señor!")) == \
        "¿dónde está el baño? ¡sí, señor!"


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


def test_sentencepiece_vocabulary_is_trained_on_training_text_and_round_trips():
    splits = split_pairs(generated_pairs(), val_fraction=0.2, test_fraction=0.2, seed=0)
    source_vocab, target_vocab = build_vocabularies(splits.train, "sentencepiece",
                                                    vocab_size=60)
    assert isinstance(target_vocab, SentencePieceVocabulary) and 8 < len(target_vocab) <= 60
    assert [target_vocab.piece(i) for i in range(4)] == ["<pad>", "<unk>", "<s>", "</s>"]
    for _, target in splits.test:  # unseen sentences: pieces, no <unk>
        ids = target_vocab.encode(target)
        assert UNK_ID not in ids and min(ids) > EOS_ID
        assert target_vocab.decode([BOS_ID, *ids, EOS_ID, 7]) == detokenize(list(target))
    # The same training pairs give the same model; it survives pickling and the sidecar.
    again = build_vocabularies(splits.train, "sentencepiece", vocab_size=60)[1]
    assert again.model_proto == target_vocab.model_proto
    for copy in (pickle.loads(pickle.dumps(target_vocab)),
                 vocabulary_from_json(target_vocab.to_json())):
        assert copy.encode(splits.test[0][1]) == target_vocab.encode(splits.test[0][1])
    assert source_vocab.unknown(["want", "xylophone"]) == ["xylophone"]  # no "x" in training
    inputs, targets = teacher_forcing([t for _, t in splits.test], target_vocab)
    assert inputs[0, 0] == BOS_ID and (targets == EOS_ID).sum() == len(splits.test)


def test_vocabularies_from_the_sidecar_and_bad_ones():
    assert vocabulary_from_json(["<pad>", "<unk>", "<s>", "</s>", "a"]).ids(["a"]) == [4]
    for bad, message in [({"sentencepiece": "%%%"}, "unreadable sentencepiece"),
                         ({"sentencepiece": "bm90IGEgbW9kZWw="}, "not a sentencepiece model"),
                         (3, "a vocabulary must be")]:
        with pytest.raises(DataError, match=message):
            vocabulary_from_json(bad)
    with pytest.raises(DataError, match="unknown vocabulary"):
        build_vocabularies([], "bpe")


def test_text_and_experiment_modules_do_not_import_keras():
    code = ("import sys, nlpia_lstm.translation.text, nlpia_lstm.translation.experiment; "
            "sys.exit('keras' in sys.modules or 'tensorflow' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], env=subprocess_env()).returncode == 0
