"""Run an experiment grid: plan its cells, train those not yet done, write each row at once.

Rows go to ``<results_dir>/<experiment>.csv`` as soon as a cell finishes, so an interrupted
run keeps every finished cell, and a rerun skips the cells already there.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .config import Experiment
from .inputs import Prepared, prepare_inputs
from .results import ResultsFile, versions

__all__ = ["Cell", "plan", "run_grid", "results_file"]

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


def _settings_row(exp: Experiment, cell: Cell, provenance: dict) -> dict:
    t = exp.training
    return {"experiment": exp.name, "arch": cell.arch, "units": cell.units, "seed": cell.seed,
            "epochs": t.epochs, "batch_size": t.batch_size, "maxlen": t.maxlen,
            "dropout": t.dropout, "optimizer": t.optimizer, "depth": cell.depth, **provenance}


def _figures(row: dict) -> str:
    test = f" test_acc={row['test_acc']:.4f}" if row["test_acc"] is not None else ""
    return (f"acc={row['acc']:.4f} val_acc={row['val_acc']:.4f}{test} "
            f"({row['train_seconds']} s)")


def run_grid(
    exp: Experiment,
    results_dir: str | os.PathLike = "results",
    *,
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
    save_models : path-like, optional
        Save each trained model here (:mod:`nlpia_lstm.saving`), as
        ``<experiment>-<arch>-<units>[-depth<d>]-seed<seed>.keras`` with its word list.
    progress : bool
        Show progress bars while the inputs are prepared.
    verbose : int
        Keras's ``fit`` verbosity: 0 silent, 1 a bar per epoch, 2 a line per epoch.
    """
    results = results_file(exp, results_dir)
    done = results.finished_keys()
    prepared = prepare_inputs(exp, progress=progress)

    from .models import frozen_embedding
    from .training import train_cell

    embedding = frozen_embedding(prepared.inputs.embeddings)
    run_versions = versions()
    cells = plan(exp)
    for i, cell in enumerate(cells, 1):
        row = _settings_row(exp, cell, prepared.provenance)
        if results.key(row) in done:
            log.info("[%d/%d] %s: already in %s", i, len(cells), cell.name, results.path)
            continue
        log.info("[%d/%d] %s", i, len(cells), cell.name)
        result, model = train_cell(cell.arch, cell.units, cell.seed, prepared.inputs,
                                   exp.training, depth=cell.depth, embedding=embedding,
                                   verbose=verbose)
        row.update(result, **run_versions)
        row["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        results.append(row)
        log.info("    %s", _figures(row))
        if save_models:
            save_classifier(model, prepared,
                            Path(save_models) / f"{exp.name}-{cell.stem}.keras")
    return results.path


def save_classifier(model, prepared: Prepared, path: Path) -> Path:
    """Save a trained grid model with the names of its embedding rows (see ``Prepared``)."""
    from .saving import save_model

    return save_model(model, path, "classifier", level=prepared.level, words=prepared.words)
