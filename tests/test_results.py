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


def test_a_torn_last_line_is_moved_aside_and_the_rest_kept(tmp_path, caplog):
    results = ResultsFile(tmp_path / "r.csv", COLS, KEYS)
    results.append({"name": "a", "units": 1, "score": 0.5})
    good = results.path.read_bytes()
    with open(results.path, "ab") as f:
        f.write(b"b,2,0.1,,0.")  # a row cut off by a power loss
    assert results.finished_keys() == {("a", "1", "", "")}
    assert results.path.read_bytes() == good
    assert (tmp_path / "r.csv.torn").read_bytes() == b"b,2,0.1,,0.\n"
    assert "cut-off line" in caplog.text
    results.append({"name": "b", "units": 2, "score": 0.7})
    assert [r["name"] for r in csv.DictReader(open(results.path, encoding="utf-8"))] == ["a", "b"]


def test_a_csv_that_is_not_text_is_refused_untouched(tmp_path):
    path = tmp_path / "r.csv"
    garbage = bytes(range(256)) * 4 + b"\n"
    path.write_bytes(garbage)
    with pytest.raises(ConfigError, match="not a results CSV"):
        ResultsFile(path, COLS, KEYS).finished_keys()
    assert path.read_bytes() == garbage


def test_a_row_is_never_written_twice(tmp_path):
    first, second = (ResultsFile(tmp_path / "r.csv", COLS, KEYS) for _ in range(2))
    row = {"name": "a", "units": 1, "score": 0.5}
    assert first.append(row) is True
    assert second.append({**row, "score": 0.9}) is False  # same key, another writer
    assert len(list(csv.DictReader(open(first.path, encoding="utf-8")))) == 1


def _append_many(path: str, start: int) -> None:
    results = ResultsFile(path, COLS, KEYS)
    for i in range(start, start + 40):
        results.append({"name": f"r{i % 60}", "units": i, "score": i})


def test_processes_appending_at_once_never_interleave_or_duplicate(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    path = str(tmp_path / "r.csv")
    # Rows 20-39 are written by both processes: each must end up in the CSV once.
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_append_many, [path, path], [0, 20]))
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(int(r["units"]) for r in rows) == list(range(60))
    assert all(len(r) == len(COLS) and None not in r for r in rows)


def test_a_claim_is_held_by_one_owner_until_released(tmp_path):
    results = ResultsFile(tmp_path / "r.csv", COLS, KEYS)
    row = {"name": "a", "units": 1}
    lock = results.claim(row)
    assert lock is not None
    other = ResultsFile(tmp_path / "r.csv", COLS, KEYS)
    assert other.claim(row) is None
    assert other.claim({"name": "b"}) is not None
    lock.release()
    assert other.claim(row) is not None


def test_check_writable_refuses_a_folder_that_cannot_be(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot write --results-dir"):
        ResultsFile(blocker / "results" / "r.csv", COLS, KEYS).check_writable()
