"""The append-only results CSV: a header once, one row per run, keys read back as written."""

import csv
import io

import pytest

from nlpia_lstm import __version__
from nlpia_lstm.errors import ConfigError
from nlpia_lstm.results import COLUMNS, KEY_COLUMNS, RETIRED_COLUMNS, ResultsFile, versions

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


# The grid's columns before the test metrics were added.
OLD_COLUMNS = [c for c in COLUMNS if c not in {"test_auc", "test_f1", "test_precision",
                                               "test_recall", "test_tp", "test_fp", "test_tn",
                                               "test_fn"}]


def test_a_csv_of_an_earlier_version_is_upgraded_with_its_rows_kept(tmp_path, caplog):
    path = tmp_path / "r.csv"
    rows = [{c: f"{c}-{i}" for c in OLD_COLUMNS} for i in range(3)]
    rows[1]["vectors"] = 'word2vec 300d (cbow, window 5, "key" x)'  # quoted, as csv writes it
    rows[2]["test_acc"] = ""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=OLD_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    before = path.read_bytes()
    results = ResultsFile(path)
    assert results.finished_keys() == {results.key(row) for row in rows}
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "earlier version" in caplog.text and "test_auc" in caplog.text
    with open(path, newline="", encoding="utf-8") as f:
        upgraded = list(csv.reader(f))
    assert upgraded[0] == COLUMNS
    for row, values in zip(rows, upgraded[1:], strict=True):
        new = dict(zip(COLUMNS, values, strict=True))
        assert {c: new[c] for c in OLD_COLUMNS} == row
        assert all(new[c] == "" for c in COLUMNS if c not in OLD_COLUMNS)
    # Byte for byte: each line is the old one's text with empty fields put in between.
    runs = [OLD_COLUMNS[:10], OLD_COLUMNS[10:]]  # the new columns between
    lines = zip(before.split(b"\r\n")[1:-1], path.read_bytes().split(b"\r\n")[1:-1], strict=True)
    for row, (old_line, new_line) in zip(rows, lines, strict=True):
        first, last = (csv_text([row[c] for c in run]) for run in runs)
        assert old_line == first + b"," + last
        assert new_line == first + b"," * 9 + last
    assert not list(tmp_path.glob(".r.csv.*"))  # no temporary file left behind
    caplog.clear()
    assert results.append({**rows[0], "seed": "new"}) and not caplog.records  # upgraded once
    assert len(list(csv.DictReader(open(path, encoding="utf-8")))) == 4


def csv_text(values: list[str]) -> bytes:
    """Fields as the csv module writes them in a line, without its end."""
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue().removesuffix("\r\n").encode()


def write_with_retired_column(path, value: str) -> list[dict]:
    """Write two rows as an earlier version did: ``rnn_kernel`` after ``depth``, as ``value``."""
    columns = COLUMNS[:COLUMNS.index("depth") + 1] + RETIRED_COLUMNS + COLUMNS[
        COLUMNS.index("depth") + 1:]
    rows = [{c: f"{c}-{i}" for c in COLUMNS} for i in range(2)]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows({**row, "rnn_kernel": value} for row in rows)
    return rows


def test_an_empty_retired_column_is_dropped_and_the_rows_kept(tmp_path, caplog):
    path = tmp_path / "r.csv"
    rows = write_with_retired_column(path, "")
    results = ResultsFile(path)
    assert results.finished_keys() == {results.key(row) for row in rows}
    assert "dropped the empty column(s) rnn_kernel" in caplog.text
    assert list(csv.DictReader(open(path, encoding="utf-8"))) == rows


def test_a_retired_column_with_values_is_refused_untouched(tmp_path):
    path = tmp_path / "r.csv"
    write_with_retired_column(path, "cudnn")
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="retired column 'rnn_kernel'"):
        ResultsFile(path).finished_keys()
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".r.csv.*"))


def test_a_header_without_the_key_columns_is_not_an_earlier_version(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("arch,units,acc\nlstm,3,0.5\n", encoding="utf-8")  # among COLUMNS, no key
    with pytest.raises(ConfigError, match="other columns"):
        ResultsFile(path).finished_keys()
    assert path.read_text(encoding="utf-8") == "arch,units,acc\nlstm,3,0.5\n"


def test_extend_writes_only_rows_not_there_yet(tmp_path):
    results = ResultsFile(tmp_path / "r.csv", COLS, KEYS)
    results.append({"name": "a", "units": 1, "score": 0.5})
    rows = [{"name": "a", "units": 1, "score": 0.9}, {"name": "a", "units": 2},
            {"name": "a", "units": 2}]
    assert results.extend(rows) == 1 and results.extend(rows) == 0
    assert [r["units"] for r in csv.DictReader(open(results.path, encoding="utf-8"))] == ["1",
                                                                                          "2"]
