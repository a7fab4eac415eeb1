"""The command line itself: arguments, one-line errors, exit statuses, where output goes."""

import logging

import pytest

from nlpia_lstm import __version__
from nlpia_lstm.cli import build_parser, main

from conftest import exit_status, one_line_error, tiny_config, write_zip

# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["grid", "missing.toml"], "no config file"),
    (["report", "missing.csv"], "no results file"),
    (["grid"], "the following arguments are required"),
    (["grid", "c.toml", "--bogus"], "unrecognized arguments"),
    (["fetch", "mnist"], "invalid choice: 'mnist'"),
    (["reproduce"], "no config at"),
    (["train-translator", "missing.toml"], "no config file"),
    (["generate", "hi", "--model", "missing.keras"], "no generator model at missing.keras"),
    (["translate", "hi"], "no translator model at models"),
])
def test_bad_input_is_one_line_and_nonzero(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert exit_status(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["generate", "hi", "--model", "m.keras", "--temperature", "-1"],
     "argument --temperature: expected a positive number, got '-1'"),
    (["generate", "hi", "--model", "m.keras", "--temperature", "inf"],
     "argument --temperature: expected a positive number, got 'inf'"),
    (["generate", "hi", "--model", "m.keras", "--temperature", "nan"],
     "argument --temperature: expected a positive number, got 'nan'"),
    (["generate", "hi", "--model", "m.keras", "--length", "0"],
     "argument --length: expected a positive integer, got '0'"),
    (["translate", "hi", "--beam", "0"], "argument --beam: expected a positive integer, got '0'"),
    (["inspect", "m.keras", "great", "--units", "0"],
     "argument --units: expected a positive integer, got '0'"),
    (["inspect", "m.keras", "great", "--layer", "two"],
     "argument --layer: expected a positive integer, got 'two'"),
    (["train-generator", "--out", "g.keras", "--units", "0"],
     "argument --units: expected a positive integer, got '0'"),
    (["train-generator", "--out", "g.keras", "--learning-rate", "0"],
     "argument --learning-rate: expected a positive number, got '0'"),
    (["train-generator", "--out", "g.keras", "--learning-rate=-inf"],
     "argument --learning-rate: expected a positive number, got '-inf'"),
    (["grid", "c.toml", "--quiet", "--verbose"],
     "argument -v/--verbose: not allowed with argument -q/--quiet"),
])
def test_bad_numbers_are_refused_before_any_work(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert exit_status(args) == 2
    line = one_line_error(capsys, prefix=f"nlpia-lstm {args[0]}: error: ")
    assert message in line


def test_missing_data_and_bad_vectors_are_one_line(tmp_path, imdb_folder, capsys):
    bad_vectors = tmp_path / "bad.bin"
    bad_vectors.write_bytes(b"\x00garbage")
    cfg = tiny_config(tmp_path, imdb_folder, bad_vectors)
    assert main(["grid", str(cfg), "--results-dir", str(tmp_path), "--quiet"]) == 2
    assert main(["grid", str(cfg), "--data", str(tmp_path / "none"),
                 "--results-dir", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "not a readable word2vec" in err[0] and "no IMDB data" in err[1]


# --- output ----------------------------------------------------------------------------------


def test_progress_goes_to_stderr_and_results_to_stdout(tmp_path, imdb_folder, word2vec_file,
                                                       fake_training, capsys):
    cfg = tiny_config(tmp_path, imdb_folder, word2vec_file)
    results = tmp_path / "results"
    assert main(["grid", str(cfg), "--results-dir", str(results)]) == 0
    out, err = capsys.readouterr()
    assert out == f"results: {results / 'tiny.csv'}\n"
    assert f"1 of 1 cells to run (0 already in {results / 'tiny.csv'})" in err
    assert "lstm units=3 seed=0: training\n" in err
    assert "lstm units=3 seed=0: acc=0.5000 val_acc=0.2500 test_acc=0.7500 (0.1 s)" in err
    assert "error" not in err and "warning" not in err

    assert main(["grid", str(cfg), "--results-dir", str(results)]) == 0
    out, err = capsys.readouterr()
    assert out == f"results: {results / 'tiny.csv'}\n"
    assert f"0 of 1 cells to run (1 already in {results / 'tiny.csv'})" in err


def test_quiet_prints_no_progress(tmp_path, imdb_folder, word2vec_file, fake_training, capsys):
    cfg = tiny_config(tmp_path, imdb_folder, word2vec_file)
    for run in ("first", "rerun"):
        assert main(["grid", str(cfg), "--results-dir", str(tmp_path), "-q"]) == 0, run
        assert capsys.readouterr() == (f"results: {tmp_path / 'tiny.csv'}\n", ""), run


def test_verbosity_sets_the_package_log_level(tmp_path, monkeypatch, capsys):
    (tmp_path / "aclImdb_v1.tar.gz").write_bytes(b"local copy")
    monkeypatch.setenv("NLPIA_LSTM_DATA", str(tmp_path))
    logger = logging.getLogger("nlpia_lstm")
    for flag, level in (("-q", logging.WARNING), ("--verbose", logging.DEBUG),
                        (None, logging.INFO)):
        assert main(["fetch", "imdb"] + ([flag] if flag else [])) == 0
        assert logger.level == level and not logger.propagate
        assert capsys.readouterr().out == f"{tmp_path / 'aclImdb_v1.tar.gz'}\n"


def test_fetch_prints_the_local_copy_of_either_data_set(tmp_path, monkeypatch, capsys):
    write_zip(tmp_path / "spa-eng.zip", [("Go.", "Ve.")])
    (tmp_path / "aclImdb_v1.tar.gz").write_bytes(b"local copy")
    monkeypatch.setenv("NLPIA_LSTM_DATA", str(tmp_path))
    assert main(["fetch", "spa-eng", "--quiet"]) == 0
    assert main(["fetch", "imdb", "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines() == [str(tmp_path / "spa-eng.zip"),
                                                    str(tmp_path / "aclImdb_v1.tar.gz")]


def test_report_prints_where_it_wrote(tmp_path, capsys):
    csv_path = tmp_path / "r.csv"
    csv_path.write_text("arch,units,seed,acc,val_acc\nlstm,50,0,0.7,0.8\n", encoding="utf-8")
    assert main(["report", str(csv_path), "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out == (f"report: {tmp_path / 'out' / 'r.md'}\n"
                                       f"plot: {tmp_path / 'out' / 'r.png'}\n")


def test_version(capsys):
    assert exit_status(["--version"]) == 0
    assert capsys.readouterr().out == f"nlpia-lstm {__version__}\n"


def test_fetch_help_names_both_data_sets(capsys):
    assert exit_status(["fetch", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: nlpia-lstm fetch")
    assert "{imdb,spa-eng}" in out and "--quiet" in out and "--verbose" in out


def test_every_command_has_quiet_and_verbose():
    parser = build_parser()
    commands = {"grid": ["c.toml"], "report": ["r.csv"], "reproduce": [], "fetch": ["imdb"],
                "inspect": ["m.keras", "text"], "train-generator": ["--out", "g.keras"],
                "generate": ["hi", "--model", "g.keras"], "train-translator": ["c.toml"],
                "translate": ["hi"]}
    for command, args in commands.items():
        assert parser.parse_args([command, *args, "-q"]).quiet, command
        assert parser.parse_args([command, *args, "-v"]).verbose, command


def test_reproduce_keeps_its_rows_apart_from_the_published_run():
    parser = build_parser()
    assert parser.parse_args(["reproduce"]).results_dir == "results/reproduced"
    assert parser.parse_args(["reproduce", "--results-dir", "x"]).results_dir == "x"
    assert parser.parse_args(["grid", "c.toml"]).results_dir == "results"
