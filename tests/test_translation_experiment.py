"""Training and comparing translators from a config: CSV rows per variant and decoding."""

from __future__ import annotations

from nlpia_lstm.cli import main
from nlpia_lstm.config import parse_translation_config
from nlpia_lstm.saving import read_sidecar
from nlpia_lstm.translation.experiment import COLUMNS, KEY_COLUMNS, prepare

from conftest import generated_pairs, read_rows, write_zip


def test_prepare_splits_by_sentence_and_builds_vocabularies_from_training(tmp_path):
    data = write_zip(tmp_path / "spa-eng.zip", generated_pairs())
    exp = parse_translation_config({"name": "t", "data": {
        "path": str(data), "min_count": 1, "val_fraction": 0.2, "test_fraction": 0.2}})
    splits, source_vocab, target_vocab = prepare(exp, progress=False)
    assert len(splits.train) + len(splits.val) + len(splits.test) == len(generated_pairs())
    train_words = {w for s, _ in splits.train for w in s}
    assert set(source_vocab.tokens[4:]) == train_words
    assert set(target_vocab.tokens[4:]) == {w for _, t in splits.train for w in t}
    assert set(KEY_COLUMNS) <= set(COLUMNS) and "bleu" not in KEY_COLUMNS


def test_cli_train_translator_writes_rows_and_models(tmp_path, capsys):
    data = write_zip(tmp_path / "spa-eng.zip", generated_pairs())
    config = tmp_path / "tiny.toml"
    config.write_text('name = "tiny"\n[data]\nmin_count = 1\nval_fraction = 0.2\n'
                      'test_fraction = 0.2\n[model]\nembedding_dim = 8\nunits = 8\n'
                      'encoder_layers = 1\n[training]\nepochs = 1\nbatch_size = 16\n'
                      '[decoding]\nbeam_width = 2\nmax_output_tokens = 8\nexamples = 2\n',
                      encoding="utf-8")
    results = tmp_path / "results" / "tiny.csv"
    argv = ["train-translator", str(config), "--data", str(data), "--results-dir",
            str(results.parent), "--models-dir", str(tmp_path / "models"), "--quiet"]
    assert main(argv) == 0
    assert capsys.readouterr().out == f"results: {results}\n"
    rows = read_rows(results)
    assert list(rows[0]) == COLUMNS
    assert [(r["variant"], r["decoding"], r["beam_width"]) for r in rows] == [
        ("init", "greedy", "1"), ("init", "beam", "2"),
        ("every_step", "greedy", "1"), ("every_step", "beam", "2")]
    assert all(0.0 <= float(r["bleu"]) <= 1.0 and int(r["n_test"]) > 0 for r in rows)
    assert (tmp_path / "models" / "tiny-every_step.keras").is_file()
    meta = read_sidecar(tmp_path / "models" / "tiny-init.keras", "translator")
    assert meta["variant"] == "init" and meta["settings"]["name"] == "tiny"
    assert main(argv[:-1]) == 0
    captured = capsys.readouterr()
    assert "[init] already in" in captured.err and "already in" not in captured.out
    assert read_rows(results) == rows
    assert main(["train-translator", str(tmp_path / "none.toml")]) == 2
    assert "no config file" in capsys.readouterr().err
