"""Training and comparing translators from a config: CSV rows per variant and decoding, on one
process or on Dask workers."""

from __future__ import annotations

import dataclasses

import pytest

from nlpia_lstm.cli import main
from nlpia_lstm.config import parse_translation_config
from nlpia_lstm.saving import read_sidecar
from nlpia_lstm.translation.experiment import COLUMNS, KEY_COLUMNS, prepare, read_splits
from nlpia_lstm.translation.text import PAD_ID, SentencePieceVocabulary, detokenize

from conftest import generated_pairs, read_rows, write_zip

FIGURES = ["variant", "decoding", "beam_width", "bleu", "chrf", "token_accuracy", "val_loss",
           "epochs_run", "params", "source_vocab", "target_vocab", "bleu_signature"]


def tiny_config(tmp_path, vocabulary: str = "word") -> str:
    config = tmp_path / "tiny.toml"
    config.write_text(f'name = "tiny"\n[data]\nmin_count = 1\nval_fraction = 0.2\n'
                      f'test_fraction = 0.2\nvocabulary = "{vocabulary}"\nvocab_size = 40\n'
                      '[model]\nembedding_dim = 8\nunits = 8\nencoder_layers = 1\n'
                      'attention_dim = 8\n[training]\nepochs = 2\nbatch_size = 16\n'
                      '[decoding]\nbeam_width = 2\nmax_output_tokens = 8\nexamples = 2\n',
                      encoding="utf-8")
    return str(config)


@pytest.mark.parametrize("vocabulary", ["word", "sentencepiece"])
def test_prepare_splits_by_sentence_and_builds_vocabularies_from_training(vocabulary, tmp_path):
    data = write_zip(tmp_path / "spa-eng.zip", generated_pairs())
    exp = parse_translation_config({"name": "t", "data": {
        "path": str(data), "min_count": 1, "val_fraction": 0.2, "test_fraction": 0.2,
        "vocabulary": vocabulary, "vocab_size": 40}})
    splits = read_splits(exp, progress=False)
    prepared = prepare(exp, progress=False)
    p = prepared.provenance
    assert (p["n_train"], p["n_val"], p["n_test"]) == (
        len(splits.train), len(splits.val), len(splits.test))
    assert sum((p["n_train"], p["n_val"], p["n_test"])) == len(generated_pairs())
    assert [len(a) for a in prepared.train] == [len(splits.train)] * 3
    assert prepared.test_sources == list(dict.fromkeys(detokenize(list(s))
                                                       for s, _ in splits.test))
    assert prepared.test_ids.shape[0] == p["n_test_sentences"] == len(prepared.test_sources)
    assert p["vocabulary"] == vocabulary
    if vocabulary == "word":
        train_words = {w for s, _ in splits.train for w in s}
        assert set(prepared.source_vocab.tokens[4:]) == train_words
        assert (p["min_count"], p["vocab_size"]) == (1, None)
    else:
        assert isinstance(prepared.target_vocab, SentencePieceVocabulary)
        assert (p["min_count"], p["vocab_size"]) == (None, 40)
    assert (prepared.train[0] != PAD_ID).any(axis=1).all()
    assert set(KEY_COLUMNS) <= set(COLUMNS) and "bleu" not in KEY_COLUMNS


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    """The three variants trained in this process through the command line: its argv and rows
    (sentencepiece vocabularies, two epochs)."""
    from nlpia_lstm.cli import main

    tmp_path = tmp_path_factory.mktemp("serial")
    data = write_zip(tmp_path / "spa-eng.zip", generated_pairs())
    results = tmp_path / "results" / "tiny.csv"
    argv = ["train-translator", tiny_config(tmp_path, "sentencepiece"), "--data", str(data),
            "--results-dir", str(results.parent), "--models-dir", str(tmp_path / "models"),
            "--workers", "1", "--quiet"]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NLPIA_LSTM_CACHE", str(tmp_path / "cache"))
        assert main(argv) == 0
    return argv, results


def test_cli_train_translator_writes_rows_and_models(serial_run, capsys):
    argv, results = serial_run
    models = results.parents[1] / "models"
    rows = read_rows(results)
    assert list(rows[0]) == COLUMNS
    assert [(r["variant"], r["decoding"], r["beam_width"]) for r in rows] == [
        ("init", "greedy", "1"), ("init", "beam", "2"), ("every_step", "greedy", "1"),
        ("every_step", "beam", "2"), ("attention", "greedy", "1"), ("attention", "beam", "2")]
    assert all(0.0 <= float(r["bleu"]) <= 100.0 and 0.0 <= float(r["chrf"]) <= 100.0
               and int(r["n_test"]) > 0 and r["epochs_run"] == "2" for r in rows)
    assert all(r["bleu_signature"].startswith("nrefs:") and "version:" in r["bleu_signature"]
               for r in rows)
    assert {r["vocabulary"] for r in rows} == {"sentencepiece"}
    assert [r["attention_dim"] for r in rows] == ["", "", "", "", "8", "8"]
    assert (models / "tiny-attention.keras").is_file()
    meta = read_sidecar(models / "tiny-attention.keras", "translator")
    assert meta["variant"] == "attention" and meta["settings"]["name"] == "tiny"
    assert set(meta["target_vocab"]) == {"sentencepiece"}
    capsys.readouterr()
    assert main(argv[:-1]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"results: {results}\n"
    assert "[init] already in" in captured.err and "already in" not in captured.out
    assert read_rows(results) == rows
    assert main(["train-translator", str(results.parent / "none.toml")]) == 2
    assert "no config file" in capsys.readouterr().err


def test_two_dask_workers_give_the_rows_of_one_process(serial_run, tmp_path):
    from nlpia_lstm.config import load_translation_config
    from nlpia_lstm.translation.experiment import run_experiment

    argv, serial = serial_run
    exp = load_translation_config(argv[1])
    exp = dataclasses.replace(exp, data=dataclasses.replace(exp.data, path=argv[3]),
                              model=dataclasses.replace(exp.model,
                                                        variants=("every_step", "attention")))
    on_dask = run_experiment(exp, tmp_path, tmp_path / "models", workers=2)

    def figures(path, variants=exp.model.variants):
        return sorted(tuple(row[c] for c in FIGURES) for row in read_rows(path)
                      if row["variant"] in variants)

    assert len(read_rows(on_dask)) == 4
    assert figures(on_dask) == figures(serial)
    assert sorted(p.name for p in (tmp_path / "models").glob("*.keras")) == [
        "tiny-attention.keras", "tiny-every_step.keras"]
