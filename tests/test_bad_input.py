"""Bad input and faults through the command line, as a new user meets them.

Every case checks the exit status (2 for bad input, 130 for an interrupt), exactly one line on
stderr without a traceback, and that rows already in a results CSV are untouched. Almost all run
``main`` in this process and fail before any training; three start the command as a subprocess,
to see what a terminal shows (TensorFlow's start-up lines) and that numbers are refused before
TensorFlow loads.
"""

from __future__ import annotations

import io
import multiprocessing
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from nlpia_lstm import data, inputs
from nlpia_lstm.results import COLUMNS

from conftest import exit_status, one_line_error, read_rows, tiny_config, write

GRID_ROW = {c: "" for c in COLUMNS} | {"experiment": "tiny", "arch": "lstm", "units": "3",
                                       "seed": "9", "acc": "0.5", "val_acc": "0.5"}


def results_csv(folder: Path, rows: int = 1) -> Path:
    """A results CSV of the tiny grid holding ``rows`` finished rows (of cells not in it)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.csv"
    lines = [",".join(COLUMNS)] + [",".join((GRID_ROW | {"seed": str(9 + i)})[c]
                                            for c in COLUMNS) for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fails(argv: list[str], capsys, message: str, status: int = 2,
          prefix: str = "nlpia-lstm: error: ") -> str:
    """Run the CLI quietly; check its status and its one line, which must hold ``message``."""
    capsys.readouterr()
    assert exit_status([str(a) for a in argv] + ["--quiet"]) == status
    line = one_line_error(capsys, prefix)
    assert message in line, line
    return line


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """A command given no folder writes into the current one: make that a temporary one."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def a_file(tmp_path) -> Path:
    """A regular file: a path under it fails with NotADirectoryError, even for root."""
    return write(tmp_path / "a_file", "not a folder\n")


# --- configs -----------------------------------------------------------------------------

BAD_CONFIGS = {
    "empty": ("", "the config needs a name"),
    "not TOML": ("name = \n[[[", "not valid TOML"),
    "wrong type": ('name = "t"\n[training]\nepochs = "two"\n', "training.epochs must be int"),
    "unknown key": ('name = "t"\n[training]\nepoch = 2\n', "unknown key(s) ['epoch']"),
    "unknown table": ('name = "t"\n[trainig]\n', "unknown top-level key(s) ['trainig']"),
    "unknown optimizer": ('name = "t"\n[training]\noptimizer = "sgdx"\n',
                          "unknown training.optimizer 'sgdx'"),
    "unknown backend": ('name = "t"\n[training]\nbackend = "theano"\n',
                        "unknown training.backend 'theano'"),
    "huge maxlen": ('name = "t"\n[training]\nmaxlen = 100000000000\n',
                    "training.maxlen must be at most 100,000"),
    "negative batch": ('name = "t"\n[training]\nbatch_size = -8\n',
                       "training.batch_size must be a positive integer"),
    "fraction": ('name = "t"\n[data]\nval_fraction = 1.5\n', "between 0 and 1"),
    "no seeds": ('name = "t"\nseeds = []\n', "seeds must be a non-empty list"),
    "no models": ('name = "t"\n', "at least one [[models]]"),
    "unknown arch": ('name = "t"\n[[models]]\narch = "transformer"\nunits = 3\n',
                     "unknown architecture 'transformer'"),
    "zero units": ('name = "t"\n[[models]]\narch = "lstm"\nunits = [3, 0]\n',
                   "units and depth must be positive integers, got 0"),
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_a_bad_grid_config_is_one_line(case, tmp_path, capsys):
    text, message = BAD_CONFIGS[case]
    config = write(tmp_path / "c.toml", text)
    fails(["grid", config, "--results-dir", tmp_path / "results"], capsys, message)
    assert not (tmp_path / "results").exists()


def test_a_config_that_is_binary_garbage_a_folder_or_missing(tmp_path, capsys):
    garbage = tmp_path / "g.toml"
    garbage.write_bytes(b"\xff\xfe\x00garbage\x81")
    fails(["grid", garbage], capsys, "not valid TOML")
    fails(["grid", tmp_path], capsys, "is a folder, not a config file")
    fails(["grid", tmp_path / "none.toml"], capsys, "no config file at")


def test_a_bad_translation_config_is_one_line(tmp_path, capsys):
    config = write(tmp_path / "t.toml", 'name = "t"\n[model]\nvariants = ["every_word"]\n')
    fails(["train-translator", config], capsys, "model.variants must name some of")


# --- command-line numbers: refused by argparse, before anything loads --------------------


@pytest.mark.parametrize(("argv", "message"), [
    (["generate", "hi", "--model", "m.keras", "--temperature", "-1"], "--temperature"),
    (["generate", "hi", "--model", "m.keras", "--temperature", "inf"], "--temperature"),
    (["train-generator", "--out", "g.keras", "--epochs", "1.5"], "--epochs"),
    (["translate", "hi", "--beam", "-3"], "--beam"),
])
def test_bad_numbers_are_one_argparse_line(argv, message, capsys):
    fails(argv, capsys, message, prefix=f"nlpia-lstm {argv[0]}: error: ")


# --- data ----------------------------------------------------------------------------------


def test_missing_data_is_one_line(tmp_path, imdb_folder, word2vec_file, capsys):
    config = tiny_config(tmp_path, imdb_folder, word2vec_file)
    fails(["grid", config, "--data", tmp_path / "none", "--results-dir", tmp_path], capsys,
          "no IMDB data at")


def test_data_that_is_not_an_archive_is_one_short_line(tmp_path, imdb_folder, word2vec_file,
                                                        capsys):
    config = tiny_config(tmp_path, imdb_folder, word2vec_file)
    text = write(tmp_path / "aclImdb_v1.tar.gz", "plain text, not gzip\n" * 20)
    line = fails(["grid", config, "--data", text, "--results-dir", tmp_path], capsys,
                 "not a tar archive")
    assert "method gz" not in line and len(line) < 300


def test_a_truncated_archive_is_one_line(tmp_path, imdb_archive, word2vec_file, capsys):
    cut = tmp_path / "aclImdb_v1.tar.gz"
    cut.write_bytes(imdb_archive.read_bytes()[: imdb_archive.stat().st_size // 2])
    config = tiny_config(tmp_path, cut, word2vec_file)
    fails(["grid", config, "--results-dir", tmp_path], capsys, str(cut))


def test_an_archive_member_escaping_with_dotdot_is_named(tmp_path, imdb_folder, word2vec_file,
                                                         capsys):
    evil = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(imdb_folder, arcname="aclImdb")
        member = tarfile.TarInfo("aclImdb/../../evil.txt")
        member.size = 4
        tar.addfile(member, io.BytesIO(b"evil"))
    config = tiny_config(tmp_path, evil, word2vec_file)
    line = fails(["grid", config, "--results-dir", tmp_path], capsys, "unsafe archive member")
    assert "aclImdb/../../evil.txt" in line and "word" not in line


def test_a_review_that_is_not_utf8_in_a_folder_is_named(tmp_path, imdb_folder, word2vec_file,
                                                       capsys):
    import shutil

    folder = shutil.copytree(imdb_folder, tmp_path / "aclImdb")
    (folder / "train" / "pos" / "99_1.txt").write_bytes(b"caf\xe9, a great movie")
    config = tiny_config(tmp_path, folder, word2vec_file)
    line = fails(["grid", config, "--results-dir", tmp_path], capsys, "not UTF-8 text")
    assert "99_1.txt" in line


def test_a_folder_without_reviews_is_one_line(tmp_path, word2vec_file, capsys):
    (tmp_path / "aclImdb" / "train").mkdir(parents=True)
    config = tiny_config(tmp_path, tmp_path / "aclImdb", word2vec_file)
    fails(["grid", config, "--results-dir", tmp_path], capsys, "no reviews found")


def test_an_unreadable_vectors_file_is_one_line(tmp_path, imdb_folder, capsys):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x00garbage")
    fails(["grid", tiny_config(tmp_path, imdb_folder, bad), "--results-dir", tmp_path], capsys,
          "not a readable word2vec")


# --- results and output folders ----------------------------------------------------------


def test_a_results_dir_under_a_file_is_refused_before_any_work(tmp_path, imdb_folder,
                                                               word2vec_file, a_file, capsys):
    config = tiny_config(tmp_path, imdb_folder, word2vec_file)
    fails(["grid", config, "--results-dir", a_file / "results"], capsys,
          "cannot write --results-dir")
    assert not list(Path(data.cache_dir()).glob("tokens/*.npz"))  # nothing was tokenized


@pytest.mark.parametrize("content", [
    b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary",
    b"a,b,c\n1,2,3\n",
], ids=["garbage", "garbage without a last newline", "other columns"])
def test_a_results_csv_that_is_not_ours_is_refused_and_kept(content, tmp_path, imdb_folder,
                                                            word2vec_file, capsys):
    csv_path = tmp_path / "results" / "tiny.csv"
    csv_path.parent.mkdir()
    csv_path.write_bytes(content)
    config = tiny_config(tmp_path, imdb_folder, word2vec_file)
    fails(["grid", config, "--results-dir", csv_path.parent], capsys, "choose another")
    assert csv_path.read_bytes() == content


def test_a_torn_last_row_is_set_aside_and_the_rerun_keeps_the_rows(
        tmp_path, imdb_folder, word2vec_file, fake_training, capsys):
    csv_path = results_csv(tmp_path / "results", rows=2)
    kept = csv_path.read_bytes()
    with open(csv_path, "ab") as f:
        f.write(b"lstm,3,0,0.5")  # a row cut off by a crash
    config = tiny_config(tmp_path, imdb_folder, word2vec_file)
    capsys.readouterr()
    assert exit_status(["grid", str(config), "--results-dir", str(csv_path.parent), "-q"]) == 0
    assert "cut-off line" in one_line_error(capsys, "nlpia-lstm: warning: ")
    assert csv_path.read_bytes().startswith(kept)
    assert len(read_rows(csv_path)) == 3
    assert (tmp_path / "results" / "tiny.csv.torn").read_bytes() == b"lstm,3,0,0.5\n"


def test_train_translator_checks_its_folders_first(tmp_path, a_file, capsys):
    config = write(tmp_path / "t.toml", 'name = "t"\n')
    missing_data = ["--data", tmp_path / "none.zip"]
    fails(["train-translator", config, "--results-dir", a_file / "r", *missing_data], capsys,
          "cannot write --results-dir")
    fails(["train-translator", config, "--results-dir", tmp_path / "r", "--models-dir",
           a_file / "m", *missing_data], capsys, "cannot write --models-dir")


@pytest.mark.parametrize("option", ["--out", "--loss-csv", "--samples"])
def test_train_generator_checks_its_outputs_before_reading_text(option, tmp_path, a_file,
                                                               capsys):
    out = {"--out": tmp_path / "g.keras"} | {option: a_file / "sub" / "x.keras"}
    argv = ["train-generator", "--nltk-data", tmp_path / "no_nltk"]
    for name, path in out.items():
        argv += [name, path]
    fails(argv, capsys, f"cannot write {option}")


def test_a_loss_csv_that_is_a_folder_is_refused(tmp_path, capsys):
    fails(["train-generator", "--out", tmp_path / "g.keras", "--loss-csv", tmp_path], capsys,
          "is a folder: give a file name")


def test_inspect_checks_its_out_folder_first(tmp_path, a_file, capsys):
    fails(["inspect", tmp_path / "m.keras", "great", "--out", a_file / "out"], capsys,
          "cannot write --out")


def test_report_into_a_folder_under_a_file_is_exit_2(tmp_path, a_file, capsys):
    csv_path = results_csv(tmp_path)
    before = csv_path.read_bytes()
    fails(["report", csv_path, "--out", a_file / "out"], capsys, "Not a directory")
    assert csv_path.read_bytes() == before


def test_a_file_system_error_from_anywhere_is_exit_2(tmp_path, monkeypatch, capsys):
    from nlpia_lstm import report

    def denied(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted", str(tmp_path / "r.md"))

    monkeypatch.setattr(report, "write_report", denied)
    fails(["report", results_csv(tmp_path)], capsys, "r.md: Operation not permitted")


# --- report --------------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "message"), [
    (None, "no results file at"),
    ("", "not a readable results CSV"),
    ("arch,units\nlstm,3\n", "missing column(s)"),
    (",".join(COLUMNS) + "\n", "no result rows yet"),
], ids=["missing", "empty", "columns", "no rows"])
def test_report_of_a_bad_csv_is_one_line(content, message, tmp_path, capsys):
    csv_path = tmp_path / "r.csv"
    if content is not None:
        write(csv_path, content)
    fails(["report", csv_path], capsys, message)
    fails(["report", tmp_path], capsys, "is a folder")


def test_report_counts_a_repeated_row_once_and_says_so(tmp_path, capsys):
    csv_path = tmp_path / "r.csv"
    row = "lstm,3,0,0.5,0.6\n"
    write(csv_path, "arch,units,seed,acc,val_acc\n" + row + row + "lstm,3,1,0.7,0.8\n")
    capsys.readouterr()
    assert exit_status(["report", str(csv_path), "--out", str(tmp_path / "out")]) == 0
    line = one_line_error(capsys, "nlpia-lstm: warning: ")
    assert "1 row(s) repeat a run" in line
    table = (tmp_path / "out" / "r.md").read_text(encoding="utf-8")
    assert "3 runs" not in table and "2 runs" in table and "0.6000 ± 0.1414" in table


# --- model files ---------------------------------------------------------------------------


def fake_model(path: Path, kind: str, content: bytes | None = None) -> Path:
    """A model file (a zip, like every .keras file, unless ``content`` says otherwise) and its
    sidecar: enough for every check made before Keras loads."""
    if content is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("metadata.json", "{}")
    else:
        path.write_bytes(content)
    write(path.with_suffix(".json"), f'{{"format": "nlpia_lstm.{kind}/1", "words": ["a"]}}')
    return path


@pytest.mark.parametrize(("argv", "message"), [
    (["generate", "hi", "--model", "{tmp}/none.keras"], "train-generator --out"),
    (["inspect", "{tmp}/none.keras", "great"], "--save-models"),
    (["translate", "hi", "--model", "{tmp}/none.keras"], "train-translator"),
    (["generate", "hi", "--model", "{tmp}"], "is a folder"),
], ids=["generate", "inspect", "translate", "folder"])
def test_a_missing_model_says_how_to_make_one(argv, message, tmp_path, capsys):
    fails([a.format(tmp=tmp_path) for a in argv], capsys, message)


@pytest.mark.parametrize("kind", ["generator", "classifier", "translator"])
def test_a_corrupt_keras_file_is_named_as_such(kind, tmp_path, capsys):
    model = fake_model(tmp_path / "m.keras", kind, b"PK\x03\x04 cut short")
    command = {"generator": ["generate", "hi", "--model", model],
               "classifier": ["inspect", model, "great", "--out", tmp_path],
               "translator": ["translate", "hi", "--model", model]}[kind]
    line = fails(command, capsys, "not a Keras model file")
    assert "File not found" not in line


def test_empty_texts_are_one_line(tmp_path, monkeypatch, capsys):
    model = fake_model(tmp_path / "m.keras", "classifier")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    fails(["inspect", model, "-", "--out", tmp_path], capsys, "the review text is empty")
    fails(["generate", "", "--model", tmp_path / "g.keras"], capsys, "the seed text is empty")
    fails(["translate", " ", "--model", tmp_path / "t.keras"], capsys, "nothing to translate")


# --- caches ----------------------------------------------------------------------------------


def _corrupt(path: Path, how: str) -> None:
    content = path.read_bytes()
    if how == "truncated":
        path.write_bytes(content[: len(content) // 2])
    elif how == "emptied":
        path.write_bytes(b"")
    else:
        flipped = bytearray(content)
        flipped[len(content) // 2] ^= 0xFF
        path.write_bytes(bytes(flipped))


@pytest.mark.parametrize("how", ["truncated", "emptied", "bit-flipped"])
def test_a_corrupt_token_cache_is_set_aside_and_rebuilt(how, tmp_path, imdb_folder,
                                                        word2vec_file, fake_training, capsys):
    config = tiny_config(tmp_path, imdb_folder, word2vec_file)
    argv = ["grid", str(config), "--results-dir", str(tmp_path / "results"), "-q"]
    assert exit_status(argv) == 0
    cached = next(Path(data.cache_dir()).glob("tokens/imdb-train-*.npz"))
    _corrupt(cached, how)
    (tmp_path / "results" / "tiny.csv").unlink()
    capsys.readouterr()
    assert exit_status(argv) == 0
    line = one_line_error(capsys, "nlpia-lstm: warning: ")
    assert f"{cached} is corrupt" in line and "rebuilding it" in line
    assert cached.with_name(cached.name + ".corrupt").is_file()
    assert len(read_rows(tmp_path / "results" / "tiny.csv")) == 1
    assert exit_status(argv) == 0 and capsys.readouterr().err == ""  # rebuilt for good


def test_a_truncated_vectors_cache_is_set_aside_and_retrained(tmp_path, imdb_folder,
                                                              fake_training, capsys):
    config = tiny_config(tmp_path, imdb_folder)  # word2vec trained, and cached
    argv = ["grid", str(config), "--results-dir", str(tmp_path / "results"), "-q"]
    assert exit_status(argv) == 0
    cached = next(Path(data.cache_dir()).glob("vectors/*.bin"))
    _corrupt(cached, "truncated")
    (tmp_path / "results" / "tiny.csv").unlink()
    capsys.readouterr()
    assert exit_status(argv) == 0
    line = one_line_error(capsys, "nlpia-lstm: warning: ")
    assert f"{cached} is corrupt" in line and "moved to" in line
    assert cached.with_name(cached.name + ".corrupt").is_file()


def _tokenize_in_child(source: str) -> None:
    from nlpia_lstm.tokens import load_imdb_tokens

    load_imdb_tokens(source, ("train", "test"), n_jobs=1)


def test_two_runs_on_a_cold_cache_do_not_trip_over_each_other(imdb_folder):
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_tokenize_in_child, args=(str(imdb_folder),))
                for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0, 0, 0]
    folder = Path(data.cache_dir()) / "tokens"
    assert len(list(folder.glob("*.npz"))) == 2 and not list(folder.glob(".*part*"))


# --- interrupts ------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [0, 2])
def test_ctrl_c_during_word2vec_is_one_line_that_tells_the_truth(rows, tmp_path, imdb_folder,
                                                                 monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(inputs, "train_word2vec", interrupted)
    if rows:
        csv_path = results_csv(tmp_path / "results", rows)
        before = csv_path.read_bytes()
    config = tiny_config(tmp_path, imdb_folder)
    line = fails(["grid", config, "--results-dir", tmp_path / "results"], capsys,
                 "interrupted", status=130, prefix="nlpia-lstm: interrupted")
    if rows:
        assert f"the {rows} row(s) in {csv_path} are kept" in line
        assert csv_path.read_bytes() == before
    else:
        assert line == "nlpia-lstm: interrupted"


# --- what a terminal shows (subprocesses) ------------------------------------------------


def run_cli(*argv, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """The command as a user starts it, without the test suite's TF_CPP_MIN_LOG_LEVEL."""
    import os

    environ = {k: v for k, v in os.environ.items()
               if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTEST_CURRENT_TEST")} | env
    return subprocess.run([sys.executable, "-m", "nlpia_lstm", *map(str, argv)], cwd=cwd,
                          env=environ, capture_output=True, text=True, timeout=300)


def test_numbers_are_refused_before_tensorflow_loads(tmp_path):
    code = ("import sys; from nlpia_lstm.cli import main\n"
            "try:\n    main(['generate', 'hi', '--model', 'm.keras', '--temperature', '-1'])\n"
            "except SystemExit as exc:\n    print(exc.code, 'tensorflow' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.split() == ["2", "False"]
    assert len(done.stderr.strip().splitlines()) == 1


def test_training_and_generating_print_nothing_but_their_output(tmp_path):
    """--quiet to a pipe: no TensorFlow start-up lines, no Keras per-epoch lines, no warnings;
    and generate, not quiet, prints its text alone."""
    from test_generation import _fake_gutenberg

    _fake_gutenberg(tmp_path / "nltk")
    model = tmp_path / "gen.keras"
    trained = run_cli("train-generator", "--quiet", "--nltk-data", tmp_path / "nltk", "--out",
                      model, "--epochs", "2", "--units", "4", "--maxlen", "10",
                      "--max-chars", "300", "--loss-csv", tmp_path / "loss.csv", cwd=tmp_path)
    assert trained.returncode == 0 and trained.stderr == "", trained.stderr
    assert trained.stdout.splitlines() == [f"model: {model}", f"loss csv: {tmp_path / 'loss.csv'}"]
    generated = run_cli("generate", "--model", model, "--length", "12", "to be", cwd=tmp_path)
    assert generated.returncode == 0 and generated.stderr == "", generated.stderr
    assert generated.stdout.startswith("to be") and len(generated.stdout) == len("to be") + 13
