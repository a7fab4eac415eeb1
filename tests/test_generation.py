"""Character-level text generation: windows, sampling, a tiny model, the CLI and its errors."""

import csv
import json
import zipfile

import numpy as np
import pytest

from nlpia_lstm import cli
from nlpia_lstm.errors import ConfigError, DataError
from nlpia_lstm.generation import (
    SHAKESPEARE,
    build_generator,
    char_windows,
    generate,
    load_generator,
    load_gutenberg,
    run_generator,
    sample,
    save_generator,
    train_generator,
)

from conftest import one_line_error

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
            "--epochs", "2", "--units", "8", "--maxlen", str(MAXLEN), "--batch-size", "32",
            "--loss-csv", str(tmp_path / "loss.csv"), "--samples", str(tmp_path / "s.md"),
            "--sample-length", "20", "--quiet"]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"model: {out}", f"loss csv: {tmp_path / 'loss.csv'}", f"samples: {tmp_path / 's.md'}"]
    _, chars, maxlen, lower = load_generator(out)
    assert (maxlen, lower) == (MAXLEN, True) and "\u00e6" in chars  # lower-cased Æ
    assert sorted(p.name for p in tmp_path.glob("gen.*")) == ["gen.json", "gen.keras"]
    with open(tmp_path / "loss.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert all(float(r["loss"]) > 0 for r in rows) and rows[0]["maxlen"] == str(MAXLEN)
    samples = (tmp_path / "s.md").read_text()
    assert [f"## temperature {t}" in samples for t in (0.2, 0.5, 1.0)] == [True] * 3


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
