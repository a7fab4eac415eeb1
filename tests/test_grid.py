"""Running a grid: its cells, one CSV row each written at once, reruns, interrupts, models."""

import csv

import numpy as np
import pytest

from nlpia_lstm import grid, saving
from nlpia_lstm.cli import main
from nlpia_lstm.config import load_config, parse_config
from nlpia_lstm.inputs import prepare_inputs
from nlpia_lstm.preprocessing import PAD, UNK, VALID_CHARS
from nlpia_lstm.results import COLUMNS, HISTORY_COLUMNS, KEY_COLUMNS, ResultsFile

from conftest import read_rows, tiny_config


def test_plan_runs_seeds_in_the_outer_loop(tmp_path):
    exp = parse_config({"name": "p", "seeds": [0, 1], "models": [
        {"arch": ["lstm", "gru"], "units": 3}, {"arch": "lstm", "units": 2, "depth": 2}]})
    cells = grid.plan(exp)
    assert [(c.seed, c.arch, c.units, c.depth) for c in cells] == [
        (0, "lstm", 3, 1), (0, "gru", 3, 1), (0, "lstm", 2, 2),
        (1, "lstm", 3, 1), (1, "gru", 3, 1), (1, "lstm", 2, 2)]
    assert (cells[0].name, cells[0].stem) == ("lstm units=3 seed=0", "lstm-3-seed0")
    assert (cells[2].name, cells[2].stem) == ("lstm units=2 depth=2 seed=0",
                                              "lstm-2-depth2-seed0")
    results = grid.results_file(exp, tmp_path)
    assert results.path == tmp_path / "p.csv" and results.columns == COLUMNS


def test_grid_writes_one_row_per_cell_and_skips_them_on_rerun(tmp_path, imdb_archive,
                                                              word2vec_file, capsys):
    cfg = tiny_config(tmp_path, imdb_archive, word2vec_file,
                      models='arch = ["lstm", "birnn"]\nunits = [3, 2]')
    results = tmp_path / "results"
    assert main(["grid", str(cfg), "--results-dir", str(results), "--quiet"]) == 0
    assert capsys.readouterr().out == f"results: {results / 'tiny.csv'}\n"
    written = read_rows(results / "tiny.csv")
    assert len(written) == 4
    assert list(written[0]) == COLUMNS
    first = written[0]
    assert (first["arch"], first["units"], first["seed"]) == ("lstm", "3", "0")
    assert (first["n_train"], first["n_val"], first["n_test"]) == ("64", "16", "40")
    assert first["vectors"] == "tiny-vectors.bin (limit 200000)"
    assert first["data"] == "aclImdb_v1.tar.gz" and first["keras_version"]
    for row in written:
        for metric in ("acc", "val_acc", "test_acc", "test_auc", "test_f1", "test_precision",
                       "test_recall"):
            assert 0.0 <= float(row[metric]) <= 1.0
        assert sum(int(row[c]) for c in ("test_tp", "test_fp", "test_tn", "test_fn")) == 40
    # The learning curves beside: one row per cell and epoch, ending with the row's figures.
    history = read_rows(results / "tiny.history.csv")
    assert list(history[0]) == HISTORY_COLUMNS and len(history) == 4
    for row, epoch in zip(written, history, strict=True):
        assert [epoch[c] for c in KEY_COLUMNS] == [row[c] for c in KEY_COLUMNS]
        assert epoch["epoch"] == "1" and float(epoch["seconds"]) >= 0.0
        assert [epoch[c] for c in ("acc", "val_acc", "loss", "val_loss")] == [
            row[c] for c in ("acc", "val_acc", "loss", "val_loss")]

    assert main(["grid", str(cfg), "--results-dir", str(results)]) == 0
    captured = capsys.readouterr()
    assert f"0 of 4 cells to run (4 already in {results / 'tiny.csv'})" in captured.err
    assert "already in" not in captured.out
    assert read_rows(results / "tiny.csv") == written
    assert read_rows(results / "tiny.history.csv") == history


@pytest.fixture
def fake_training_with_history(monkeypatch):
    """Cells that 'train' at once for two epochs, with fixed figures and their history."""
    from nlpia_lstm import training

    def train_cell(arch, units, seed, inputs, settings=None, **kwargs):
        history = [{"epoch": e, "acc": 0.5, "val_acc": 0.25, "loss": 0.7, "val_loss": 0.8,
                    "seconds": 0.1} for e in (1, 2)]
        return {"acc": 0.5, "val_acc": 0.25, "loss": 0.7, "val_loss": 0.8, "test_acc": 0.75,
                "test_loss": 0.6, "train_seconds": 0.2, "params": 1, "history": history}, None

    monkeypatch.setattr(training, "train_cell", train_cell)


def test_a_kill_between_the_history_and_the_row_doubles_no_history(
        tmp_path, imdb_folder, word2vec_file, fake_training_with_history, monkeypatch):
    cfg = tiny_config(tmp_path, imdb_folder, word2vec_file)
    append = ResultsFile.append

    def killed_before_the_row(self, row):
        if self.path.name == "tiny.csv":
            raise KeyboardInterrupt
        return append(self, row)

    monkeypatch.setattr(ResultsFile, "append", killed_before_the_row)
    assert main(["grid", str(cfg), "--results-dir", str(tmp_path), "--quiet"]) == 130
    assert not (tmp_path / "tiny.csv").exists()
    assert [r["epoch"] for r in read_rows(tmp_path / "tiny.history.csv")] == ["1", "2"]

    monkeypatch.setattr(ResultsFile, "append", append)
    assert main(["grid", str(cfg), "--results-dir", str(tmp_path), "--quiet"]) == 0
    assert len(read_rows(tmp_path / "tiny.csv")) == 1
    assert [r["epoch"] for r in read_rows(tmp_path / "tiny.history.csv")] == ["1", "2"]


def test_a_csv_of_an_earlier_version_is_upgraded_and_its_cells_skipped(
        tmp_path, imdb_folder, word2vec_file, fake_training, capsys):
    cfg = tiny_config(tmp_path, imdb_folder, word2vec_file, models='arch = "lstm"\nunits = [3, 2]')
    argv = ["grid", str(cfg), "--results-dir", str(tmp_path)]
    assert main(argv) == 0
    # The same rows as an earlier version wrote them: without the columns added since.
    old_columns = [c for c in COLUMNS if not c.startswith("test_") or c in ("test_acc",
                                                                           "test_loss")]
    old_rows = [{c: r[c] for c in old_columns} for r in read_rows(tmp_path / "tiny.csv")]
    with open(tmp_path / "tiny.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=old_columns)
        writer.writeheader()
        writer.writerows(old_rows)
    capsys.readouterr()
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "0 of 2 cells to run (2 already in" in err and err.count("earlier version") == 1
    rows = read_rows(tmp_path / "tiny.csv")
    assert list(rows[0]) == COLUMNS
    assert [{c: r[c] for c in old_columns} for r in rows] == old_rows
    assert main(["report", str(tmp_path / "tiny.csv")]) == 0


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
    assert "interrupted; the 1 row(s) in" in capsys.readouterr().err
    assert [r["units"] for r in read_rows(tmp_path / "tiny.csv")] == ["3"]


def test_saved_models_come_with_their_words(tmp_path, imdb_folder, word2vec_file):
    cfg = tiny_config(tmp_path, imdb_folder, word2vec_file)
    models = tmp_path / "models"
    assert main(["grid", str(cfg), "--results-dir", str(tmp_path), "--quiet",
                 "--save-models", str(models)]) == 0
    model, meta = saving.load_model(models / "tiny-lstm-3-seed0.keras", "classifier")
    assert meta["format"] == "nlpia_lstm.classifier/1" and meta["level"] == "word"
    words = meta["words"]
    assert words == prepare_inputs(load_config(cfg)).words
    matrix = model.get_layer("word_vectors").get_weights()[0]
    assert matrix.shape[0] == len(words) + 1 and not np.any(matrix[0])
    assert sorted(p.name for p in models.iterdir()) == ["tiny-lstm-3-seed0.json",
                                                        "tiny-lstm-3-seed0.keras"]


def _write_reviews(folder, split: str, n: int) -> None:
    for label, words in (("pos", "great fun, loved it! "), ("neg", "awful; dull... hated it ")):
        (folder / split / label).mkdir(parents=True)
        for i in range(n):
            (folder / split / label / f"{i}_7.txt").write_text(words * (i % 4 + 1),
                                                               encoding="utf-8")


def test_char_grid_through_the_cli(tmp_path, capsys):
    imdb = tmp_path / "aclImdb"
    _write_reviews(imdb, "train", 8)
    _write_reviews(imdb, "test", 3)
    cfg = tmp_path / "char.toml"
    cfg.write_text(f"""
name = "tiny_char"
seeds = [0]
[data]
level = "char"
path = "{imdb}"
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
    assert main(argv + ["--save-models", str(models)]) == 0
    rows = read_rows(results / "tiny_char.csv")
    assert list(rows[0]) == COLUMNS
    assert [r["arch"] for r in rows] == ["lstm", "gru"]
    for row in rows:
        assert row["vectors"].startswith("one-hot chars (") and row["vectors"].endswith("symbols)")
        assert (row["maxlen"], row["n_train"], row["n_val"], row["n_test"]) == ("40", "12", "4",
                                                                                "6")
        assert 0.0 <= float(row["val_acc"]) <= 1.0 and row["test_acc"] != ""
    meta = saving.read_sidecar(models / "tiny_char-lstm-3-seed0.keras", "classifier")
    symbols = meta["words"]
    assert meta["level"] == "char"
    assert symbols[:2] == [PAD, UNK] and set(symbols[2:]) <= set(VALID_CHARS)
    assert str(len(symbols)) in rows[0]["vectors"]
    assert not list(models.glob("*.chars.json"))

    # A rerun finds both cells done; the report reads the char CSV like any other.
    assert main(argv) == 0
    assert len(read_rows(results / "tiny_char.csv")) == 2
    assert main(["report", str(results / "tiny_char.csv")]) == 0
    assert (results / "tiny_char.md").is_file()

    # Word vectors make no sense for characters: one line, exit 2.
    capsys.readouterr()
    assert main(argv + ["--vectors", str(tmp_path / "w2v.bin")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "char" in err


def test_csv_from_another_version_is_not_overwritten(tmp_path, imdb_folder, word2vec_file,
                                                     capsys):
    (tmp_path / "tiny.csv").write_text("arch,units\nlstm,3\n", encoding="utf-8")
    cfg = tiny_config(tmp_path, imdb_folder, word2vec_file)
    assert main(["grid", str(cfg), "--results-dir", str(tmp_path), "--quiet"]) == 2
    assert "other columns" in capsys.readouterr().err
    assert (tmp_path / "tiny.csv").read_text(encoding="utf-8") == "arch,units\nlstm,3\n"
