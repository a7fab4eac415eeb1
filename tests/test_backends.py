"""The same tiny grid cell runs on Keras's JAX backend (the GPU machines have JAX, not TF)."""

import csv
import importlib.util
import subprocess
import sys

import pytest

from conftest import read_rows, subprocess_env, tiny_config


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_tiny_grid_cell_on_jax_backend(tmp_path, imdb_folder, word2vec_file, isolated_cache):
    cfg = tiny_config(tmp_path, imdb_folder, word2vec_file,
                      models='arch = ["lstm", "birnn", "gru"]\nunits = [2]')
    env = subprocess_env(KERAS_BACKEND="jax", NLPIA_LSTM_CACHE=str(isolated_cache))
    done = subprocess.run(
        [sys.executable, "-m", "nlpia_lstm", "grid", str(cfg), "--results-dir", str(tmp_path),
         "--quiet"], env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with open(tmp_path / "tiny.csv", newline="") as f:
        written = list(csv.DictReader(f))
    assert [r["arch"] for r in written] == ["lstm", "birnn", "gru"]
    assert {r["backend"] for r in written} == {"jax"}
    assert all(0.0 <= float(r["val_acc"]) <= 1.0 for r in written)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_a_config_pins_the_backend_and_the_backend_keys_the_rows(tmp_path, imdb_folder,
                                                                 word2vec_file, isolated_cache):
    """A pinned config runs on its backend whatever KERAS_BACKEND says, and a row made on one
    backend is not taken for the same cell on another: both runs write their row."""
    plain = tiny_config(tmp_path, imdb_folder, word2vec_file)
    pinned = plain.with_name("pinned.toml")
    pinned.write_text(plain.read_text().replace("[training]", '[training]\nbackend = "jax"'))
    env = subprocess_env(KERAS_BACKEND="tensorflow", NLPIA_LSTM_CACHE=str(isolated_cache))
    for cfg in (pinned, plain, pinned):
        done = subprocess.run(
            [sys.executable, "-m", "nlpia_lstm", "grid", str(cfg), "--results-dir",
             str(tmp_path), "--quiet", "--workers", "1"],
            env=env, capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    rows = read_rows(tmp_path / "tiny.csv")
    assert [r["backend"] for r in rows] == ["jax", "tensorflow"]
    history = read_rows(tmp_path / "tiny.history.csv")
    assert [r["backend"] for r in history] == ["jax", "tensorflow"]
