"""The append-only results CSV: a header once, one row per run, keys read back as written."""

import csv

import pytest

from nlpia_lstm import __version__
from nlpia_lstm.errors import ConfigError
from nlpia_lstm.results import COLUMNS, KEY_COLUMNS, ResultsFile, versions

COLS = ["name", "units", "dropout", "note", "score"]
KEYS = ["name", "units", "dropout", "note"]


def test_header_is_written_with_the_first_row(tmp_path):
    results = ResultsFile(tmp_path / "new" / "r.csv", COLS, KEYS)
    assert results.finished_keys() == set() and not results.path.exists()
    results.append({"name": "a", "units": 3, "dropout": 0.2, "score": 0.5})
    lines = results.path.read_text(encoding="utf-8").splitlines()
    assert lines == ["name,units,dropout,note,score", "a,3,0.2,,0.5"]
    results.path.write_text("", encoding="utf-8")  # an empty file counts as new
    results.append({"name": "b"})
    assert results.path.read_text(encoding="utf-8").splitlines()[0] == ",".join(COLS)


def test_rows_are_appended_and_their_keys_read_back(tmp_path):
    results = ResultsFile(tmp_path / "r.csv", COLS, KEYS)
    rows = [{"name": "a", "units": 3, "dropout": 0.2, "note": None, "score": 0.5},
            {"name": "a", "units": 4, "dropout": 0.0, "note": "x", "score": 0.6, "extra": 1}]
    for row in rows:
        results.append(row)
    with open(results.path, newline="", encoding="utf-8") as f:
        written = list(csv.DictReader(f))
    assert [r["units"] for r in written] == ["3", "4"] and "extra" not in written[1]
    # A fresh ResultsFile (a rerun) finds the same keys that the rows give before writing.
    assert ResultsFile(results.path, COLS, KEYS).finished_keys() == {results.key(r) for r in rows}
    assert results.key({**rows[0], "score": 0.9}) in results.finished_keys()
    assert results.key({**rows[0], "units": 5}) not in results.finished_keys()


def test_key_is_the_text_the_csv_holds():
    results = ResultsFile("unused.csv", COLS, KEYS)
    assert results.key({"name": "a", "units": 3, "dropout": 0.2, "note": None}) == (
        "a", "3", "0.2", "")
    assert results.key({}) == ("", "", "", "")
    assert results.key({"units": 3}) == results.key({"units": "3"})


def test_a_csv_with_other_columns_is_refused_not_rewritten(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("arch,units\nlstm,3\n", encoding="utf-8")
    results = ResultsFile(path, COLS, KEYS)
    with pytest.raises(ConfigError, match="other columns"):
        results.finished_keys()
    with pytest.raises(ConfigError, match="other columns"):
        results.append({"name": "a"})
    assert path.read_text(encoding="utf-8") == "arch,units\nlstm,3\n"


def test_grid_columns_and_versions():
    assert ResultsFile("r.csv").columns == COLUMNS  # the grid's by default
    assert set(KEY_COLUMNS) <= set(COLUMNS)
    recorded = versions()
    assert set(recorded) <= set(COLUMNS)
    assert recorded["nlpia_lstm_version"] == __version__
    assert recorded["keras_version"] and recorded["backend"] and recorded["python_version"]
