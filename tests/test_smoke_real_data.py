"""A small grid through the CLI on the real IMDB archive: the pipeline really learns.

Marked ``smoke``; skips when the archive is absent (set NLPIA_LSTM_DATA to its folder, or keep
the project beside ``shared/data`` as in development and CI). The folder is looked up once, when
the module is collected: conftest's autouse ``isolated_cache`` fixture removes NLPIA_LSTM_DATA
from the environment before each test body runs.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, subprocess_env


def real_data_folder() -> Path | None:
    for folder in (os.environ.get("NLPIA_LSTM_DATA"), REPO.parent / "shared" / "data"):
        if folder and (Path(folder) / "aclImdb_v1.tar.gz").is_file():
            return Path(folder)
    return None


REAL_DATA = real_data_folder()


@pytest.mark.smoke
@pytest.mark.skipif(REAL_DATA is None, reason="real IMDB archive not available: set "
                    "NLPIA_LSTM_DATA to the folder holding aclImdb_v1.tar.gz")
def test_smoke_grid_on_real_imdb(tmp_path, isolated_cache):
    env = subprocess_env(NLPIA_LSTM_DATA=str(REAL_DATA),
                         NLPIA_LSTM_CACHE=str(isolated_cache))
    done = subprocess.run(
        [sys.executable, "-m", "nlpia_lstm", "grid", str(REPO / "experiments" / "smoke.toml"),
         "--results-dir", str(tmp_path)], env=env, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with open(tmp_path / "smoke.csv", newline="") as f:
        written = list(csv.DictReader(f))
    assert len(written) == 1
    row = written[0]
    assert (row["n_train"], row["n_val"], row["data"]) == ("4800", "1200", "aclImdb_v1.tar.gz")
    # Chance is 0.5 (balanced classes); 1,200 validation reviews put its spread near 0.015.
    assert float(row["val_acc"]) > 0.62, row
