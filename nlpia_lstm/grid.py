"""Run an experiment grid: plan its cells, train those not yet done, write each row at once.

The inputs are prepared once, by this process (the driver). The cells run here one after
another (``workers=1``), or as Dask tasks on a local cluster of worker processes or on any
Dask cluster (:mod:`nlpia_lstm.cluster`), which receive the inputs once each. Whoever runs a
cell, the driver alone writes its row to ``<results_dir>/<experiment>.csv`` as soon as it
finishes, its per-epoch history just before to ``<results_dir>/<experiment>.history.csv``, so
an interrupted run keeps every finished cell and a rerun skips them. Several drivers may share
one results folder: each cell is claimed by one of them
(:meth:`nlpia_lstm.results.ResultsFile.claim`), and a cell is never written twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .cluster import (
    CELL_THREADS,
    check_backend,
    dask_client,
    import_keras_quietly,
    pin_cell_threads,
    run_jobs,
    use_backend,
)
from .config import Experiment, TrainingSettings
from .inputs import Prepared, prepare_inputs
from .results import HISTORY_COLUMNS, HISTORY_KEY_COLUMNS, ResultsFile, versions
from .saving import check_writable

__all__ = ["Cell", "plan", "run_grid", "results_file", "history_file", "train_one",
           "save_classifier"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cell:
    """One run of a grid: an architecture at a unit count and depth, with one seed."""

    arch: str
    units: int
    depth: int
    seed: int

    @property
    def name(self) -> str:
        depth = f" depth={self.depth}" if self.depth > 1 else ""
        return f"{self.arch} units={self.units}{depth} seed={self.seed}"

    @property
    def stem(self) -> str:
        """File-name stem of the cell's saved model (without the experiment's name)."""
        depth = f"-depth{self.depth}" if self.depth > 1 else ""
        return f"{self.arch}-{self.units}{depth}-seed{self.seed}"


def plan(exp: Experiment) -> list[Cell]:
    """Every cell of ``exp``; seeds run in the outer loop, so a partial run holds whole tables."""
    return [Cell(arch, units, depth, seed) for seed in exp.seeds
            for arch, units, depth in exp.cells]


def results_file(exp: Experiment, results_dir: str | os.PathLike) -> ResultsFile:
    """The results CSV of ``exp`` in ``results_dir``: ``<experiment name>.csv``."""
    return ResultsFile(Path(results_dir) / f"{exp.name}.csv")


def history_file(exp: Experiment, results_dir: str | os.PathLike) -> ResultsFile:
    """The per-epoch history CSV of ``exp`` in ``results_dir``: ``<experiment name>.history.csv``.

    One row per cell and epoch: the cell's key columns, ``epoch`` (from 1), ``acc``,
    ``val_acc``, ``loss``, ``val_loss`` and the epoch's ``seconds``.
    """
    return ResultsFile(Path(results_dir) / f"{exp.name}.history.csv", HISTORY_COLUMNS,
                       HISTORY_KEY_COLUMNS)


def _settings_row(exp: Experiment, cell: Cell, provenance: dict) -> dict:
    t = exp.training
    return {"experiment": exp.name, "arch": cell.arch, "units": cell.units, "seed": cell.seed,
            "epochs": t.epochs, "batch_size": t.batch_size, "maxlen": t.maxlen,
            "dropout": t.dropout, "optimizer": t.optimizer, "depth": cell.depth,
            "backend": t.backend, **provenance}


def _figures(row: dict) -> str:
    test = f" test_acc={row['test_acc']:.4f}" if row["test_acc"] is not None else ""
    return (f"acc={row['acc']:.4f} val_acc={row['val_acc']:.4f}{test} "
            f"({row['train_seconds']} s)")


# One frozen Embedding per process and input matrix: TensorFlow does not give back a model's
# variables when the model is dropped, so a fresh 90 MB matrix per cell would add up.
_EMBEDDINGS: dict[int, tuple] = {}


def train_one(cell: Cell, prepared: Prepared, settings: TrainingSettings, *,
              verbose: int = 0, save_path: str | None = None) -> dict:
    """Train and score one cell where this function runs (a worker or the driver).

    Returns the row's figures, the versions that made them, the finish time and the cell's
    per-epoch ``history`` (a list of dicts), which the driver writes to the history CSV. With
    ``save_path`` the model is saved there, on this machine's file system.
    """
    import_keras_quietly()
    check_backend(settings.backend)
    from .models import frozen_embedding
    from .training import train_cell

    matrix = prepared.inputs.embeddings
    if id(matrix) not in _EMBEDDINGS:
        _EMBEDDINGS[id(matrix)] = (matrix, frozen_embedding(matrix))
    result, model = train_cell(cell.arch, cell.units, cell.seed, prepared.inputs, settings,
                               depth=cell.depth, embedding=_EMBEDDINGS[id(matrix)][1],
                               verbose=verbose)
    if save_path:
        save_classifier(model, prepared, Path(save_path))
    return {**result, **versions(),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def run_grid(
    exp: Experiment,
    results_dir: str | os.PathLike = "results",
    *,
    workers: int = 1,
    scheduler: str | None = None,
    save_models: str | os.PathLike | None = None,
    progress: bool = False,
    verbose: int = 0,
) -> Path:
    """Train every cell of ``exp`` not yet in its results CSV; return the CSV's path.

    Parameters
    ----------
    exp : Experiment
        The grid, from :func:`nlpia_lstm.config.load_config`.
    results_dir : path-like
        Folder of the results CSV, ``<experiment name>.csv``.
    workers : int
        1 runs the cells in this process, one after another; more runs them on a local Dask
        cluster of that many worker processes. Either way each cell runs on
        ``cluster.CELL_THREADS`` backend threads, so that it gives the same figures.
    scheduler : str, optional
        Address of a running Dask scheduler to run the cells on instead (``workers`` is then
        ignored).
    save_models : path-like, optional
        Save each trained model here (:mod:`nlpia_lstm.saving`), as
        ``<experiment>-<arch>-<units>[-depth<d>]-seed<seed>.keras`` with its word list. The
        workers write them, so on a cluster this must be a folder they all can reach.
    progress : bool
        Show progress bars: preparing the inputs, and one over the grid's cells with an ETA.
    verbose : int
        Keras's ``fit`` verbosity for cells run in this process (0, 1 or 2).
    """
    results = results_file(exp, results_dir)
    results.check_writable()
    history = history_file(exp, results_dir)
    history.finished_keys()  # an unusable history CSV is refused before any work
    if save_models:
        check_writable(save_models, "--save-models", folder=True)
    done = results.finished_keys()
    if scheduler is None and workers <= 1:
        pin_cell_threads()  # before the backend loads: a worker's pools, a worker's figures
    # The backend is part of a row's key: resolve it before the keys of the cells are made.
    backend = use_backend(exp.training.backend)
    exp = dataclasses.replace(exp, training=dataclasses.replace(exp.training, backend=backend))
    started = time.perf_counter()
    prepared = prepare_inputs(exp, progress=progress)
    log.info("inputs ready in %.0f s", time.perf_counter() - started)
    cells = plan(exp)
    pending = [(cell, _settings_row(exp, cell, prepared.provenance)) for cell in cells]
    pending = [(cell, row) for cell, row in pending if results.key(row) not in done]
    log.info("%d of %d cells to run (%d already in %s)", len(pending), len(cells),
             len(cells) - len(pending), results.path)
    if not pending:
        return results.path
    save_paths = {}
    if save_models:
        save_paths = {cell: str(Path(save_models) / f"{exp.name}-{cell.stem}.keras")
                      for cell, _ in pending}

    from tqdm.auto import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    with contextlib.ExitStack() as stack:
        client = remote = None
        if scheduler is not None or workers > 1:
            client = stack.enter_context(dask_client(workers, scheduler, CELL_THREADS))
            remote = client.scatter(prepared, broadcast=True, hash=False)
        # A bar on a terminal only: in a log file its redrawn lines would be noise.
        bar = stack.enter_context(tqdm(total=len(pending), desc=exp.name, unit="cell",
                                       disable=None if progress else True))
        stack.enter_context(logging_redirect_tqdm(loggers=[logging.getLogger("nlpia_lstm")]))
        finished = run_jobs(pending, train_one, (prepared, exp.training), results=results,
                            is_done=lambda row, done: results.key(row) in done, client=client,
                            remote_args=(remote, exp.training), name=lambda cell: cell.name,
                            save_paths=save_paths, verbose=verbose)
        for cell, row, result in finished:
            bar.update(1)
            if result is None:
                continue  # another process ran this cell
            # The history first: a run killed between the two writes reruns the cell, and the
            # history's key (the cell's key and the epoch) keeps its rows from doubling.
            history.extend([{**row, **epoch} for epoch in result.pop("history", None) or []])
            row.update(result)
            if not results.append(row):
                log.warning("%s: another process wrote this cell first", cell.name)
            log.info("%s: %s", cell.name, _figures(row))
    return results.path


def save_classifier(model, prepared: Prepared, path: Path) -> Path:
    """Save a trained grid model with the names of its embedding rows (see ``Prepared``)."""
    from .saving import save_model

    return save_model(model, path, "classifier", level=prepared.level, words=prepared.words)
