"""Character-level text generation: windows, sampling, a tiny model, the CLI and its errors."""

import csv
import json
import logging
import shutil
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

from nlpia_lstm import cli, generation
from nlpia_lstm.errors import ConfigError, DataError
from nlpia_lstm.generation import (
    SHAKESPEARE,
    build_generator,
    char_windows,
    generate,
    load_generator,
    load_gutenberg,
    round_ends,
    run_generator,
    sample,
    sample_epochs,
    save_generator,
    train_generator,
)

from conftest import exit_status, one_line_error, subprocess_env

TEXT = "to be, or not to be: that is the question. whether 'tis nobler in the mind " * 3
MAXLEN = 10


def test_char_windows_are_the_chapters_sentences_and_next_chars():
    chars = sorted(set(TEXT))
    x, y = char_windows(TEXT, chars, maxlen=MAXLEN, step=3)
    starts = range(0, len(TEXT) - MAXLEN, 3)
    assert x.shape == (len(starts), MAXLEN) and y.shape == (len(starts),)
    for row, target, i in zip(x, y, starts, strict=True):
        assert "".join(chars[j] for j in row) == TEXT[i : i + MAXLEN]
        assert chars[target] == TEXT[i + MAXLEN]
    with pytest.raises(DataError, match="more than maxlen"):
        char_windows("short", chars, maxlen=MAXLEN)
    with pytest.raises(DataError, match="not in the vocabulary"):
        char_windows(TEXT + "#", chars, maxlen=MAXLEN)


def test_sample_near_zero_temperature_picks_the_argmax():
    rng = np.random.default_rng(0)
    assert {sample([0.1, 0.5, 0.4], 1e-6, rng) for _ in range(50)} == {1}
    assert {sample([0.333, 0.334, 0.333], 1e-4, rng) for _ in range(50)} == {1}
    assert {sample([0.0, 0.0, 1.0], 1e-9, rng) for _ in range(5)} == {2}


def test_sample_follows_the_probabilities_and_repeats_with_a_seed():
    preds = np.array([0.2, 0.3, 0.5])
    draws = [sample(preds, 1.0, np.random.default_rng(0)) for _ in range(3)]
    assert len(set(draws)) == 1
    rng = np.random.default_rng(1)
    counts = np.bincount([sample(preds, 1.0, rng) for _ in range(4000)], minlength=3) / 4000
    np.testing.assert_allclose(counts, preds, atol=0.03)
    with pytest.raises(ConfigError, match="temperature"):
        sample(preds, 0.0)


@pytest.fixture(scope="module")
def tiny_model():
    model, chars, history = train_generator(TEXT, epochs=2, batch_size=16, maxlen=MAXLEN,
                                            units=8, verbose=0)
    return model, chars, history


def test_train_generator_reports_each_epoch(tiny_model):
    model, chars, history = tiny_model
    assert chars == sorted(set(TEXT))
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(h["loss"] > 0 and h["seconds"] >= 0 for h in history)
    assert model.output_shape == (None, len(chars))


def test_generate_length_determinism_and_seed_errors(tiny_model):
    model, chars, _ = tiny_model
    first = generate(model, chars, "to be, or not", length=25, temperature=0.5, seed=3,
                     maxlen=MAXLEN)
    assert len(first) == 25 and set(first) <= set(chars)
    assert generate(model, chars, "to be, or not", length=25, temperature=0.5, seed=3,
                    maxlen=MAXLEN) == first
    assert len(generate(model, chars, "T", length=4, seed=0, maxlen=MAXLEN)) == 4
    assert generate(model, chars, "to", length=0, maxlen=MAXLEN) == ""
    with pytest.raises(DataError, match="empty"):
        generate(model, chars, "", maxlen=MAXLEN)
    with pytest.raises(DataError, match="never saw"):
        generate(model, chars, "to be #1", maxlen=MAXLEN)


def test_saved_model_generates_the_same_text_through_the_cli(tiny_model, tmp_path, capsys):
    model, chars, _ = tiny_model
    path = tmp_path / "tiny.keras"
    assert save_generator(model, chars, path, maxlen=MAXLEN) == path
    assert json.loads((tmp_path / "tiny.json").read_text(encoding="utf-8")) == {
        "format": "nlpia_lstm.generator/1", "chars": chars, "maxlen": MAXLEN, "lower": True}
    loaded, loaded_chars, maxlen, lower = load_generator(path)
    assert (loaded_chars, maxlen, lower) == (chars, MAXLEN, True)
    expected = generate(model, chars, "To be", length=30, temperature=1.0, seed=7, maxlen=MAXLEN)
    capsys.readouterr()
    argv = ["generate", "--model", str(path), "--temperature", "1.0", "--length", "30",
            "--seed", "7", "To be"]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == "To be" + expected + "\n"


def _one_line_error(capsys, argv, status=2) -> str:
    capsys.readouterr()
    assert cli.main(argv) == status
    return one_line_error(capsys)


def test_cli_errors_are_one_line(tiny_model, tmp_path, capsys):
    err = _one_line_error(capsys, ["generate", "--model", str(tmp_path / "none.keras"), "hi"])
    assert "no generator model at" in err and "train-generator" in err
    model, chars, _ = tiny_model
    save_generator(model, chars, tmp_path / "m.keras", maxlen=MAXLEN)
    assert "empty" in _one_line_error(capsys, ["generate", "--model", str(tmp_path / "m.keras"),
                                               ""])
    assert "never saw" in _one_line_error(capsys, ["generate", "--model",
                                                   str(tmp_path / "m.keras"), "#"])
    (tmp_path / "m.json").write_text('{"format": "nlpia_lstm.generator/1", "chars": []}',
                                     encoding="utf-8")
    assert "not a generator's settings" in _one_line_error(
        capsys, ["generate", "--model", str(tmp_path / "m.keras"), "hi"])
    (tmp_path / "m.json").unlink()
    assert "its settings file m.json is missing beside it" in _one_line_error(
        capsys, ["generate", "--model", str(tmp_path / "m.keras"), "hi"])
    empty = tmp_path / "nltk_empty"
    empty.mkdir()
    for folder in (empty, tmp_path / "absent"):
        err = _one_line_error(capsys, ["train-generator", "--nltk-data", str(folder), "--out",
                                       str(tmp_path / "g.keras")])
        assert 'nltk.download("gutenberg")' in err
    assert ".keras" in _one_line_error(capsys, ["train-generator", "--out",
                                                str(tmp_path / "g.h5")])


def test_a_sidecar_that_does_not_fit_the_model_is_refused(tiny_model, tmp_path):
    model, chars, _ = tiny_model
    path = save_generator(model, chars[:-1] + ["\u00e6", "\u00f8"], tmp_path / "m.keras")
    with pytest.raises(DataError, match=f"predicts {len(chars)} characters"):
        load_generator(path)


def _fake_gutenberg(root, zipped: bool = False):
    plays = {name: f"[{name.upper()}]\nEnter GHOST. \u00c6 {TEXT}\n" for name in SHAKESPEARE}
    if zipped:
        (root / "corpora").mkdir(parents=True)
        with zipfile.ZipFile(root / "corpora" / "gutenberg.zip", "w") as zf:
            zf.writestr("gutenberg/", "")
            for name, text in plays.items():
                zf.writestr(f"gutenberg/{name}", text.encode("latin-1"))
    else:
        (root / "corpora" / "gutenberg").mkdir(parents=True)
        for name, text in plays.items():
            (root / "corpora" / "gutenberg" / name).write_bytes(text.encode("latin-1"))
    return "".join(plays[name] for name in SHAKESPEARE)


@pytest.mark.parametrize("zipped", [False, True])
def test_load_gutenberg_reads_the_plays_in_order_lowercased(tmp_path, zipped):
    text = _fake_gutenberg(tmp_path, zipped)
    assert load_gutenberg(nltk_data=tmp_path) == text.lower()
    assert load_gutenberg(nltk_data=tmp_path, lower=False) == text


def test_train_generator_cli_writes_model_loss_and_samples(tmp_path, capsys):
    _fake_gutenberg(tmp_path / "nltk")
    out = tmp_path / "gen.keras"
    argv = ["train-generator", "--nltk-data", str(tmp_path / "nltk"), "--out", str(out),
            "--epochs", "2", "--round-epochs", "1", "--sample-at", "1,2", "--units", "8",
            "--maxlen", str(MAXLEN), "--batch-size", "32",
            "--loss-csv", str(tmp_path / "loss.csv"), "--samples", str(tmp_path / "s.md"),
            "--sample-length", "20", "--quiet"]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"model: {out}", f"loss csv: {tmp_path / 'loss.csv'}", f"samples: {tmp_path / 's.md'}"]
    _, chars, maxlen, lower = load_generator(out)
    assert (maxlen, lower) == (MAXLEN, True) and "\u00e6" in chars  # lower-cased Æ
    assert sorted(p.name for p in tmp_path.glob("*gen*")) == ["gen.json", "gen.keras"]
    with open(tmp_path / "loss.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:4] == ["epoch", "round", "loss", "seconds"]
    assert [(r["epoch"], r["round"]) for r in rows] == [("1", "1"), ("2", "2")]
    assert all(float(r["loss"]) > 0 for r in rows) and rows[0]["maxlen"] == str(MAXLEN)
    samples = (tmp_path / "s.md").read_text()
    assert [line for line in samples.splitlines() if line.startswith("## ")] == [
        "## after epoch 1", "## after epoch 2"]
    assert samples.count("### temperature 0.2") == 2
    assert [f"### temperature {t}" in samples for t in (0.2, 0.5, 1.0)] == [True] * 3


def test_build_generator_checks_its_arguments():
    with pytest.raises(ConfigError, match="units"):
        build_generator(10, units=0)
    with pytest.raises(ConfigError, match="learning_rate"):
        build_generator(10, learning_rate=0.0)


def test_run_generator_writes_only_what_it_is_asked_for(tmp_path):
    _fake_gutenberg(tmp_path / "nltk")
    written = run_generator(tmp_path / "g.keras", epochs=1, units=4, maxlen=MAXLEN, step=7,
                            batch_size=64, max_chars=300, nltk_data=tmp_path / "nltk")
    assert written == {"model": tmp_path / "g.keras"}
    model, chars, _, _ = load_generator(written["model"])
    assert model.output_shape == (None, len(chars)) and len(chars) < 40


# --- rounds, resuming, samples at chosen epochs ---------------------------------------------

TINY_RUN = {"units": 4, "maxlen": MAXLEN, "step": 3, "batch_size": 32, "max_chars": 300,
            "sample_length": 12, "verbose": 0}


def _run(folder, nltk, **kwargs):
    """run_generator with tiny settings, writing g.keras, loss.csv and s.md into ``folder``."""
    options = {"loss_csv": folder / "loss.csv", "samples": folder / "s.md", **TINY_RUN, **kwargs}
    return run_generator(folder / "g.keras", nltk_data=nltk, **options)


def _rows_but_seconds(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def _record(folder) -> dict:
    return json.loads((folder / "g.json").read_text(encoding="utf-8"))["training"]


@pytest.fixture(scope="module")
def nltk_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nltk")
    _fake_gutenberg(folder)
    return folder


@pytest.fixture(scope="module")
def saved_run(nltk_folder, tmp_path_factory):
    """Two rounds of one epoch, saved without samples; tests that change it use a copy."""
    folder = tmp_path_factory.mktemp("run")
    _run(folder, nltk_folder, epochs=2, round_epochs=1, samples=None)
    return folder


def test_rounds_end_every_round_epochs_and_at_the_last_epoch():
    assert round_ends(30, 6) == [6, 12, 18, 24, 30]
    assert round_ends(8, 6) == [6, 8] and round_ends(2, 6) == [2]
    assert sample_epochs(None, 30, 6) == [6, 30] and sample_epochs(None, 2, 6) == [2]
    assert sample_epochs((30, 6, 6), 30, 6) == [6, 30]
    with pytest.raises(ConfigError, match="epoch 7: it is not a round's end.*6, 12, 18, 24, 30"):
        sample_epochs([6, 7], 30, 6)
    with pytest.raises(ConfigError, match="past the last epoch, 30"):
        sample_epochs([36], 30, 6)
    with pytest.raises(ConfigError, match="round_epochs"):
        round_ends(30, 0)


def test_an_interrupted_run_resumes_to_the_same_weights_losses_and_samples(
        nltk_folder, tmp_path, monkeypatch, caplog):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _run(straight, nltk_folder, epochs=2, round_epochs=1, sample_at=[1, 2])

    real_save = generation._save_run

    def save_then_stop(*args, **kwargs):
        real_save(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(generation, "_save_run", save_then_stop)
    with pytest.raises(KeyboardInterrupt):  # stopped as round 1 is saved, before its CSV
        _run(resumed, nltk_folder, epochs=2, round_epochs=1, sample_at=[1, 2])
    monkeypatch.setattr(generation, "_save_run", real_save)
    assert _record(resumed)["epochs_done"] == 1 and not (resumed / "loss.csv").exists()
    assert sorted(p.name for p in resumed.iterdir()) == ["g.json", "g.keras"]  # no temp files
    in_new_process = shutil.copytree(resumed, tmp_path / "in_new_process")
    keras.utils.set_random_seed(99)  # as a new process would, the rerun starts elsewhere
    with caplog.at_level(logging.INFO, logger="nlpia_lstm"):
        _run(resumed, nltk_folder, epochs=2, round_epochs=1, sample_at=[1, 2])
    assert [r.getMessage() for r in caplog.records if "resuming" in r.getMessage()] == [
        f"resuming {resumed / 'g.keras'}: 1 of 2 epochs done, going on with round 2 of 2 "
        "(epochs 2-2)"]

    a, b = load_generator(straight / "g.keras")[0], load_generator(resumed / "g.keras")[0]
    for x, y in zip([*a.get_weights(), *a.optimizer.variables],
                    [*b.get_weights(), *b.optimizer.variables], strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))  # equal, not just close
    rows = _rows_but_seconds(straight / "loss.csv")
    assert [(r["epoch"], r["round"]) for r in rows] == [("1", "1"), ("2", "2")]
    assert _rows_but_seconds(resumed / "loss.csv") == rows
    samples = (straight / "s.md").read_text(encoding="utf-8")
    assert (resumed / "s.md").read_text(encoding="utf-8") == samples
    assert [line for line in samples.splitlines() if line.startswith("## ")] == [
        "## after epoch 1", "## after epoch 2"]

    # The same rerun as a user makes it: the command, in a process of its own.
    argv = ["train-generator", "--quiet", "--out", in_new_process / "g.keras", "--nltk-data",
            nltk_folder, "--epochs", "2", "--round-epochs", "1", "--sample-at", "1,2",
            "--loss-csv", in_new_process / "loss.csv", "--samples", in_new_process / "s.md",
            "--units", "4", "--maxlen", MAXLEN, "--step", "3", "--batch-size", "32",
            "--max-chars", "300", "--sample-length", "12"]
    done = subprocess.run([sys.executable, "-m", "nlpia_lstm", *map(str, argv)],
                          capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    c = load_generator(in_new_process / "g.keras")[0]
    for x, y in zip(a.get_weights(), c.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)
    assert _rows_but_seconds(in_new_process / "loss.csv") == rows
    assert (in_new_process / "s.md").read_text(encoding="utf-8") == samples

    # All epochs done: a rerun trains nothing and writes back what is missing, the same.
    def no_training(*args, **kwargs):
        raise AssertionError("a finished run trained again")

    monkeypatch.setattr(generation, "fit_round", no_training)
    (resumed / "s.md").unlink()
    (resumed / "loss.csv").unlink()
    _run(resumed, nltk_folder, epochs=2, round_epochs=1, sample_at=[1, 2])
    assert (resumed / "s.md").read_text(encoding="utf-8") == samples
    assert _rows_but_seconds(resumed / "loss.csv") == rows


def test_a_finished_run_writes_only_the_samples_it_still_can(saved_run, nltk_folder, tmp_path,
                                                             monkeypatch, caplog):
    folder = shutil.copytree(saved_run, tmp_path / "run")
    monkeypatch.setattr(generation, "fit_round", None)  # a finished run must not train
    with caplog.at_level(logging.INFO, logger="nlpia_lstm"):
        written = _run(folder, nltk_folder, epochs=2, round_epochs=1, sample_at=[1, 2])
    assert written == {"model": folder / "g.keras", "loss_csv": folder / "loss.csv",
                       "samples": folder / "s.md"}
    assert "has trained all 2 epochs already" in caplog.text
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "no samples after epoch(s) 1 in g.keras's record, and the model has trained past them "
        "(2 epochs): they can no longer be made"]
    samples = (folder / "s.md").read_text(encoding="utf-8")
    assert [line for line in samples.splitlines() if line.startswith("## ")] == [
        "## after epoch 2"]
    assert [s["epoch"] for s in _record(folder)["samples"]] == [2]
    model = load_generator(folder / "g.keras")[0]
    saved = load_generator(saved_run / "g.keras")[0]
    for x, y in zip(model.get_weights(), saved.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(("change", "message"), [
    ({"units": 5}, "units 4 there, 5 here"),
    ({"maxlen": MAXLEN + 1}, f"maxlen {MAXLEN} there, {MAXLEN + 1} here"),
    ({"step": 2}, "step 3 there, 2 here"),
    ({"learning_rate": 0.02}, "learning_rate 0.01 there, 0.02 here"),
    ({"batch_size": 16}, "batch_size 32 there, 16 here"),
    ({"seed": 1}, "seed 0 there, 1 here"),
    ({"round_epochs": 2}, "round_epochs 1 there, 2 here"),
    ({"max_chars": 299}, "trained on another text (300 characters there, 299 here"),
    ({"epochs": 1}, "has trained 2 epochs already, more than the 1 asked for"),
])
def test_resuming_with_other_settings_is_refused(saved_run, nltk_folder, change, message):
    before = {p.name: p.read_bytes() for p in saved_run.iterdir()}
    options = {"epochs": 2, "round_epochs": 1, "samples": None, **change}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as error:
        _run(saved_run, nltk_folder, **options)
    assert "start over" in str(error.value)
    assert {p.name: p.read_bytes() for p in saved_run.iterdir()} == before


def test_a_model_that_cannot_be_resumed_is_refused(saved_run, nltk_folder, tiny_model, tmp_path,
                                                  capsys):
    model, chars, _ = tiny_model
    save_generator(model, chars, tmp_path / "old" / "g.keras", maxlen=MAXLEN)
    with pytest.raises(ConfigError, match="without a record of its training"):
        _run(tmp_path / "old", nltk_folder, epochs=2, round_epochs=1)
    folder = shutil.copytree(saved_run, tmp_path / "torn")
    sidecar = json.loads((folder / "g.json").read_text(encoding="utf-8"))
    sidecar["training"]["epochs_done"] = 1  # as if stopped between the model's and its move
    (folder / "g.json").write_text(json.dumps(sidecar), encoding="utf-8")
    with pytest.raises(DataError, match="from different saves"):
        _run(folder, nltk_folder, epochs=2, round_epochs=1, samples=None)
    err = _one_line_error(capsys, ["train-generator", "--out", str(saved_run / "g.keras"),
                                   "--nltk-data", str(nltk_folder), "--epochs", "2",
                                   "--round-epochs", "1", "--units", "5", "--max-chars", "300",
                                   "--maxlen", str(MAXLEN), "--batch-size", "32"])
    assert "was trained with other settings (units 4 there, 5 here)" in err


def test_sample_epochs_are_checked_before_the_corpus_is_read(tmp_path, capsys):
    absent = tmp_path / "no_nltk"
    with pytest.raises(ConfigError, match="epoch 7: it is not a round's end"):
        run_generator(tmp_path / "g.keras", samples=tmp_path / "s.md", sample_at=[6, 7],
                      nltk_data=absent)
    base = ["train-generator", "--out", str(tmp_path / "g.keras"), "--nltk-data", str(absent)]
    err = _one_line_error(capsys, [*base, "--samples", str(tmp_path / "s.md"), "--sample-at",
                                   "6,7"])
    assert "cannot sample after epoch 7" in err and "end after epochs 6, 12, 18, 24, 30" in err
    assert "--sample-at needs --samples" in _one_line_error(capsys, [*base, "--sample-at", "6"])
    for option, value in (("--sample-at", "6,x"), ("--sample-at", "0"),
                          ("--round-epochs", "0")):
        capsys.readouterr()
        assert exit_status([*base, option, value]) == 2
        line = one_line_error(capsys, prefix="nlpia-lstm train-generator: error: ")
        assert f"argument {option}: expected" in line and "positive" in line
    assert not (tmp_path / "g.keras").exists()
