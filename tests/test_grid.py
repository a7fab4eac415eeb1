import csv

import pandas as pd
import pytest

from nlpia_lstm import grid
from nlpia_lstm.cli import main

from conftest import tiny_config


def rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_grid_writes_one_row_per_cell_and_skips_them_on_rerun(tmp_path, imdb_archive,
                                                              word2vec_file, capsys):
    cfg = tiny_config(tmp_path, imdb_archive, word2vec_file,
                      models='arch = ["lstm", "birnn"]\nunits = [3, 2]')
    results = tmp_path / "results"
    assert main(["grid", str(cfg), "--results-dir", str(results), "--quiet"]) == 0
    written = rows(results / "tiny.csv")
    assert len(written) == 4
    assert list(written[0]) == grid.COLUMNS
    first = written[0]
    assert (first["arch"], first["units"], first["seed"]) == ("lstm", "3", "0")
    assert (first["n_train"], first["n_val"], first["n_test"]) == ("64", "16", "40")
    assert first["vectors"] == "tiny-vectors.bin (limit 200000)"
    assert first["data"] == "aclImdb_v1.tar.gz" and first["keras_version"]
    for row in written:
        for metric in ("acc", "val_acc", "test_acc"):
            assert 0.0 <= float(row[metric]) <= 1.0

    capsys.readouterr()
    assert main(["grid", str(cfg), "--results-dir", str(results)]) == 0
    assert "already in" in capsys.readouterr().out
    assert rows(results / "tiny.csv") == written


def test_same_seed_same_numbers(tmp_path, imdb_folder, word2vec_file):
    cfg = tiny_config(tmp_path, imdb_folder, word2vec_file)
    for out in ("a", "b"):
        assert main(["grid", str(cfg), "--results-dir", str(tmp_path / out), "--quiet"]) == 0
    a, b = (rows(tmp_path / out / "tiny.csv")[0] for out in ("a", "b"))
    for metric in ("acc", "val_acc", "loss", "val_loss", "test_acc", "test_loss"):
        assert a[metric] == b[metric], metric


def test_default_vectors_are_word2vec_trained_on_training_texts(tmp_path, imdb_folder,
                                                                 isolated_cache):
    cfg = tiny_config(tmp_path, imdb_folder)
    assert main(["grid", str(cfg), "--results-dir", str(tmp_path), "--quiet"]) == 0
    row = rows(tmp_path / "tiny.csv")[0]
    assert row["vectors"].startswith("word2vec 8d trained on IMDB train portion + unsup")
    assert list((isolated_cache / "vectors").glob("word2vec-imdb-*.bin"))


def test_interrupt_keeps_finished_rows(tmp_path, imdb_folder, word2vec_file, monkeypatch,
                                       capsys):
    cfg = tiny_config(tmp_path, imdb_folder, word2vec_file, models='arch = "lstm"\nunits = [3, 2]')
    from nlpia_lstm import training

    real = training.train_cell
    calls = []

    def interrupted_second_time(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "train_cell", interrupted_second_time)
    assert main(["grid", str(cfg), "--results-dir", str(tmp_path), "--quiet"]) == 130
    assert "rows already written are kept" in capsys.readouterr().err
    assert [r["units"] for r in rows(tmp_path / "tiny.csv")] == ["3"]


def test_saved_models_come_with_their_words(tmp_path, imdb_folder, word2vec_file):
    import keras
    import numpy as np

    cfg = tiny_config(tmp_path, imdb_folder, word2vec_file)
    models = tmp_path / "models"
    assert main(["grid", str(cfg), "--results-dir", str(tmp_path), "--quiet",
                 "--save-models", str(models)]) == 0
    model = keras.saving.load_model(models / "tiny-lstm-3-seed0.keras")
    words = (models / "tiny-lstm-3-seed0.words.txt").read_text(encoding="utf-8").split()
    matrix = model.get_layer("word_vectors").get_weights()[0]
    assert matrix.shape[0] == len(words) + 1 and not np.any(matrix[0])


def test_report_sets_results_beside_published_figures(tmp_path):
    results = pd.DataFrame({
        "arch": ["birnn", "birnn", "lstm", "gru"], "units": [50, 50, 50, 50], "seed": [0, 1, 0, 0],
        "acc": [0.80, 0.82, 0.70, 0.75], "val_acc": [0.77, 0.79, 0.86, 0.8],
        "test_acc": [0.76, 0.78, 0.85, 0.79], "depth": [1, 1, 1, 2],
    })
    csv_path = tmp_path / "r.csv"
    results.to_csv(csv_path, index=False)
    assert main(["report", str(csv_path)]) == 0
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "| BiRNN | 50 | 2 | 0.8156 | 0.8100 ± 0.0141 | -0.0056 |" in text
    assert "| LSTM | 50 | 1 | 0.7121 | 0.7000 |" in text
    assert "| gru_x2 | 50 | 1 |  |" in text
    assert (tmp_path / "r.png").stat().st_size > 10_000


def exit_status(args: list[str]) -> int:
    """The CLI's exit status, whether main() returns it or argparse exits with it."""
    try:
        return main(args)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(("args", "message"), [
    (["grid", "missing.toml"], "no config file"),
    (["report", "missing.csv"], "no results file"),
    (["grid"], "the following arguments are required"),
    (["grid", "c.toml", "--bogus"], "unrecognized arguments"),
    (["reproduce"], "no config at"),
])
def test_bad_input_is_one_line_and_nonzero(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert exit_status(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_missing_data_and_bad_vectors_are_one_line(tmp_path, imdb_folder, capsys):
    bad_vectors = tmp_path / "bad.bin"
    bad_vectors.write_bytes(b"\x00garbage")
    cfg = tiny_config(tmp_path, imdb_folder, bad_vectors)
    assert main(["grid", str(cfg), "--results-dir", str(tmp_path), "--quiet"]) == 2
    assert main(["grid", str(cfg), "--data", str(tmp_path / "none"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "not a readable word2vec" in err[0] and "no IMDB data" in err[1]


def test_csv_from_another_version_is_not_overwritten(tmp_path, imdb_folder, word2vec_file,
                                                     capsys):
    (tmp_path / "tiny.csv").write_text("arch,units\nlstm,3\n", encoding="utf-8")
    cfg = tiny_config(tmp_path, imdb_folder, word2vec_file)
    assert main(["grid", str(cfg), "--results-dir", str(tmp_path), "--quiet"]) == 2
    assert "other columns" in capsys.readouterr().err
    assert (tmp_path / "tiny.csv").read_text(encoding="utf-8") == "arch,units\nlstm,3\n"


def test_reproduce_keeps_its_rows_apart_from_the_published_run():
    from nlpia_lstm.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["reproduce"]).results_dir == "results/reproduced"
    assert parser.parse_args(["reproduce", "--results-dir", "x"]).results_dir == "x"
    assert parser.parse_args(["grid", "c.toml"]).results_dir == "results"
