"""Grids on Dask: a local cluster, a cluster by address, a worker that dies, two drivers at once.

Each test starts real worker processes (spawned, each importing Keras), so they take a few
seconds each; the cells are tiny.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nlpia_lstm import cluster
from nlpia_lstm.config import load_config
from nlpia_lstm.errors import ConfigError
from nlpia_lstm.grid import run_grid

from conftest import read_rows, subprocess_env, tiny_config

FIGURES = ["arch", "units", "seed", "acc", "val_acc", "loss", "val_loss", "test_acc",
           "test_loss", "params"]
FOUR_CELLS = 'arch = ["lstm", "birnn"]\nunits = [3, 2]'


def figures(path: Path) -> list[tuple]:
    return sorted(tuple(row[c] for c in FIGURES) for row in read_rows(path))


@pytest.fixture(scope="module")
def four_cells(tmp_path_factory, imdb_folder, word2vec_file):
    """A four-cell config, and the figures of its serial run: what every executor must give."""
    folder = tmp_path_factory.mktemp("four_cells")
    cfg = tiny_config(folder, imdb_folder, word2vec_file, models=FOUR_CELLS)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NLPIA_LSTM_CACHE", str(folder / "cache"))
        serial = run_grid(load_config(cfg), folder / "serial", workers=1)
    return cfg, figures(serial)


def test_thread_env_sizes_every_backend():
    env = cluster.thread_env(3)
    assert env["TF_NUM_INTRAOP_THREADS"] == env["OMP_NUM_THREADS"] == "3"
    assert "intra_op_parallelism_threads=3" in env["XLA_FLAGS"]


def test_default_workers_follow_the_environment(monkeypatch):
    monkeypatch.setenv(cluster.WORKERS_ENV, "3")
    assert cluster.default_workers() == 3
    monkeypatch.delenv(cluster.WORKERS_ENV)
    assert cluster.default_workers() == cluster.available_cores()
    monkeypatch.setenv(cluster.WORKERS_ENV, "zero")
    with pytest.raises(ConfigError, match="NLPIA_LSTM_WORKERS"):
        cluster.default_workers()


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, imdb_folder, word2vec_file):
    import dask
    import distributed  # noqa: F401 (its config defaults must load before they are overridden)

    exp = load_config(tiny_config(tmp_path, imdb_folder, word2vec_file))
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), pytest.raises(
            ConfigError, match="cannot reach the Dask scheduler"):
        run_grid(exp, tmp_path, scheduler="tcp://127.0.0.1:9")
    assert not (tmp_path / "tiny.csv").exists()


def test_a_local_cluster_gives_the_rows_of_the_serial_run(tmp_path, four_cells):
    from nlpia_lstm.saving import read_sidecar

    cfg, serial = four_cells
    on_dask = run_grid(load_config(cfg), tmp_path / "dask", workers=2,
                       save_models=tmp_path / "models")
    assert len(read_rows(on_dask)) == 4
    assert figures(on_dask) == serial
    # The workers saved the models, each with its word list.
    saved = sorted(p.name for p in (tmp_path / "models").glob("*.keras"))
    assert saved == ["tiny-birnn-2-seed0.keras", "tiny-birnn-3-seed0.keras",
                     "tiny-lstm-2-seed0.keras", "tiny-lstm-3-seed0.keras"]
    assert read_sidecar(tmp_path / "models" / saved[0], "classifier")["words"]


def _dask(*args: str) -> subprocess.Popen:
    return subprocess.Popen([str(Path(sys.executable).parent / "dask"), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=subprocess_env())


def test_a_running_cluster_by_address_through_the_cli(tmp_path, four_cells):
    from nlpia_lstm.cli import main

    cfg, serial = four_cells
    address_file = tmp_path / "scheduler.json"
    scheduler = _dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                      "--scheduler-file", str(address_file))
    workers = []
    try:
        deadline = time.monotonic() + 60
        while not address_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        import json

        address = json.loads(address_file.read_text())["address"]
        workers = [_dask("worker", address, "--nthreads", "1", "--no-dashboard",
                         "--host", "127.0.0.1") for _ in range(2)]
        assert main(["grid", str(cfg), "--scheduler", address, "--results-dir",
                     str(tmp_path / "remote"), "--quiet"]) == 0
    finally:
        for process in [*workers, scheduler]:
            process.terminate()
        for process in [*workers, scheduler]:
            process.wait(30)
    assert figures(tmp_path / "remote" / "tiny.csv") == serial


def test_a_worker_killed_during_a_cell_costs_nothing(tmp_path, four_cells):
    from distributed import Client, LocalCluster

    cfg, serial = four_cells
    exp = load_config(cfg)
    killed = []

    def kill_a_busy_worker(client: Client) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            busy = [address for address, keys in client.processing().items() if keys]
            if busy:
                time.sleep(0.3)
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      env=cluster.thread_env(1)) as local, Client(local) as client:
        killer = threading.Thread(target=kill_a_busy_worker, args=(client,))
        killer.start()
        path = run_grid(exp, tmp_path / "dask", scheduler=local.scheduler_address)
        killer.join()
    assert killed, "no worker was busy to kill"
    rows = read_rows(path)
    assert len(rows) == 4 and len({(r["arch"], r["units"]) for r in rows}) == 4
    assert figures(path) == serial


def test_two_drivers_at_once_run_and_write_every_cell_once(tmp_path, four_cells):
    cfg, serial = four_cells
    argv = [sys.executable, "-m", "nlpia_lstm", "grid", str(cfg), "--workers", "1",
            "--results-dir", str(tmp_path / "shared")]
    env = subprocess_env(NLPIA_LSTM_CACHE=os.environ["NLPIA_LSTM_CACHE"])
    drivers = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env) for _ in range(2)]
    outputs = [driver.communicate(timeout=300) for driver in drivers]
    assert [driver.returncode for driver in drivers] == [0, 0], outputs
    rows = read_rows(tmp_path / "shared" / "tiny.csv")
    assert sorted((r["arch"], r["units"]) for r in rows) == sorted(
        [("lstm", "3"), ("lstm", "2"), ("birnn", "3"), ("birnn", "2")])
    trained = sum(err.count(": training") for _, err in outputs)
    assert trained == 4, outputs
    assert figures(tmp_path / "shared" / "tiny.csv") == serial


def test_a_process_on_one_backend_refuses_an_experiment_on_another():
    import keras

    here = keras.backend.backend()
    other = "jax" if here != "jax" else "tensorflow"
    assert cluster.use_backend(None) == here
    assert cluster.use_backend(here) == here
    with pytest.raises(ConfigError, match=f"runs on the {other} backend, but Keras was imported"):
        cluster.use_backend(other)
    cluster.check_backend(here)
    cluster.check_backend(None)
    with pytest.raises(ConfigError, match=f"start the workers with KERAS_BACKEND={other}"):
        cluster.check_backend(other)


def test_pin_cell_threads_gives_this_process_a_workers_pools(monkeypatch):
    for name in cluster.thread_env(1):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # set by the user: kept
    for name in ("tensorflow", "jax", "torch"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    cluster.pin_cell_threads()
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == str(cluster.CELL_THREADS)
    assert os.environ["TF_NUM_INTEROP_THREADS"] == str(cluster.CELL_THREADS)
    assert os.environ["OMP_NUM_THREADS"] == "4"


def test_pin_cell_threads_leaves_a_loaded_backend_alone(monkeypatch, caplog):
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    monkeypatch.setitem(sys.modules, "tensorflow", sys.modules.get("tensorflow", object()))
    with caplog.at_level(logging.INFO, logger="nlpia_lstm"):
        cluster.pin_cell_threads()
    assert "tensorflow is already loaded" in caplog.text
    assert "TF_NUM_INTRAOP_THREADS" not in os.environ
