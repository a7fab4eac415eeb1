"""Summarize a results CSV over seeds and set it beside the lecture's published table."""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .config import ARCHITECTURES
from .errors import DataError
from .results import KEY_COLUMNS

__all__ = ["load_published", "load_results", "summarize", "compare", "write_report"]

log = logging.getLogger(__name__)

METRICS = ("acc", "val_acc", "test_acc")
_LABELS = {"simple_rnn": "SimpleRNN", "birnn": "BiRNN", "lstm": "LSTM", "bilstm": "BiLSTM",
           "gru": "GRU"}


def load_published() -> pd.DataFrame:
    """The lecture 19b table (chapter 9 of NLP in Action): arch, units, acc, val_acc."""
    with resources.files("nlpia_lstm").joinpath("published/lecture19b_table.csv").open() as f:
        return pd.read_csv(f)


def load_results(csv_path: str | os.PathLike) -> pd.DataFrame:
    """Read a results CSV written by the grid, checking it has what a report needs.

    Rows with the same key (:data:`nlpia_lstm.results.KEY_COLUMNS`: the same cell, seed and
    settings) are one run recorded twice, say by CSVs joined by hand: only the first is kept,
    with a warning, so that no run counts twice in a mean.

    Raises
    ------
    DataError
        No such file, a folder, not a CSV, columns missing, or no rows.
    """
    if Path(csv_path).is_dir():
        raise DataError(f"{csv_path} is a folder: give the results CSV written by 'grid'")
    try:
        results = pd.read_csv(csv_path)
    except FileNotFoundError as exc:
        raise DataError(f"no results file at {csv_path}: run 'nlpia-lstm grid CONFIG' "
                        "first") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{csv_path}: not a readable results CSV ({first})") from exc
    except OSError as exc:
        raise DataError(f"{csv_path}: unreadable ({exc.strerror or exc})") from exc
    missing = {"arch", "units", "seed", "acc", "val_acc"} - set(results.columns)
    if missing:
        raise DataError(f"{csv_path}: missing column(s) {sorted(missing)}")
    if results.empty:
        raise DataError(f"{csv_path}: no result rows yet")
    key = [c for c in KEY_COLUMNS if c in results.columns]
    repeated = results.duplicated(subset=key, keep="first")
    if repeated.any():
        log.warning("%s: %d row(s) repeat a run already in it (same arch, units, depth, seed "
                    "and settings); each run is counted once", csv_path, int(repeated.sum()))
        results = results[~repeated].reset_index(drop=True)
    if "depth" in results:
        # A stacked model is its own architecture in the table: "lstm_x2" for two LSTM layers.
        stacked = results["depth"].fillna(1).astype(int) > 1
        results.loc[stacked, "arch"] = (results.loc[stacked, "arch"] + "_x"
                                        + results.loc[stacked, "depth"].astype(int).astype(str))
    return results


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample standard deviation and count over seeds, per (arch, units)."""
    metrics = [m for m in METRICS if m in results and results[m].notna().any()]
    grouped = results.groupby(["arch", "units"])[metrics]
    summary = grouped.mean().add_suffix("_mean").join(grouped.std().add_suffix("_std"))
    summary["seeds"] = results.groupby(["arch", "units"])["seed"].nunique()
    summary = summary.reset_index()
    order = {a: i for i, a in enumerate(ARCHITECTURES)}
    summary["_order"] = summary["arch"].map(order).fillna(len(order))
    return summary.sort_values(["_order", "units"], ascending=[True, False]).drop(columns="_order")


def compare(summary: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Join the summary with the published figures; ``d_`` columns are reproduced - published."""
    pub = published.rename(columns={"acc": "pub_acc", "val_acc": "pub_val_acc"})
    table = summary.merge(pub, on=["arch", "units"], how="left")
    table["d_acc"] = table["acc_mean"] - table["pub_acc"]
    table["d_val_acc"] = table["val_acc_mean"] - table["pub_val_acc"]
    return table


def _fmt(mean: float, std: float | None = None) -> str:
    if mean is None or pd.isna(mean):
        return ""
    return f"{mean:.4f}" if std is None or pd.isna(std) else f"{mean:.4f} ± {std:.4f}"


def _signed(value: float) -> str:
    return "" if pd.isna(value) else f"{value:+.4f}"


def markdown_table(table: pd.DataFrame) -> str:
    """Render :func:`compare`'s output as a Markdown table."""
    has_test = "test_acc_mean" in table
    head = ["arch", "units", "seeds", "published acc", "acc", "Δ acc", "published val_acc",
            "val_acc", "Δ val_acc"] + (["test_acc"] if has_test else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table.itertuples(index=False):
        cells = [_LABELS.get(r.arch, r.arch), str(r.units), str(r.seeds), _fmt(r.pub_acc),
                 _fmt(r.acc_mean, r.acc_std), _signed(r.d_acc), _fmt(r.pub_val_acc),
                 _fmt(r.val_acc_mean, r.val_acc_std), _signed(r.d_val_acc)]
        if has_test:
            cells.append(_fmt(r.test_acc_mean, r.test_acc_std))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(table: pd.DataFrame, path: str | os.PathLike, title: str = "") -> Path:
    """Plot accuracy against units per architecture, published points marked with crosses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, metric in zip(axes, ("acc", "val_acc"), strict=True):
        for i, (arch, rows) in enumerate(table.groupby("arch", sort=False)):
            color = f"C{i}"
            rows = rows.sort_values("units")
            ax.errorbar(rows["units"], rows[f"{metric}_mean"], yerr=rows[f"{metric}_std"].fillna(0),
                        marker="o", color=color, capsize=3, label=f"{_LABELS.get(arch, arch)}")
            published = rows[rows[f"pub_{metric}"].notna()]
            if len(published):
                ax.scatter(published["units"], published[f"pub_{metric}"], marker="x", s=60,
                           color=color, label=f"{_LABELS.get(arch, arch)} (published)")
        ax.set_xscale("log")
        ax.set_xticks(sorted(table["units"].unique()))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel("units")
        ax.set_title({"acc": "training accuracy", "val_acc": "validation accuracy"}[metric])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (mean ± sd over seeds)")
    axes[1].legend(fontsize=8, loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def write_report(
    csv_path: str | os.PathLike, out_dir: str | os.PathLike | None = None
) -> tuple[Path, Path]:
    """Write ``<name>.md`` (table beside the published figures) and ``<name>.png`` (plot).

    Both go next to the CSV unless ``out_dir`` is given. Returns their paths.
    """
    csv_path = Path(csv_path)
    results = load_results(csv_path)
    table = compare(summarize(results), load_published())
    out_dir = Path(out_dir) if out_dir else csv_path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, png_path = out_dir / f"{csv_path.stem}.md", out_dir / f"{csv_path.stem}.png"
    plot(table, png_path, title=csv_path.stem)

    def values(column: str) -> str:
        if column not in results:
            return ""
        return "; ".join(str(v) for v in results[column].dropna().unique())

    seeds = sorted(results["seed"].unique())
    lines = [
        f"# {csv_path.stem}: reproduced vs published",
        "",
        f"{len(results)} runs from `{csv_path.name}`, seeds {', '.join(map(str, seeds))}. "
        "Reproduced figures are mean ± sample standard deviation over seeds; published figures "
        "are the single runs of lecture 19b (NLP in Action, ch. 9). Δ = reproduced mean − "
        "published. `acc`/`val_acc` are Keras's last-epoch figures, as in the lecture; "
        "`test_acc` scores the official IMDB test split.",
        "",
        markdown_table(table),
        "",
        f"![accuracy against units]({png_path.name})",
        "",
        "## How these were made",
        "",
    ]
    for column in ("data", "n_train", "n_val", "n_test", "vectors", "epochs", "batch_size",
                   "maxlen", "optimizer", "keras_version", "backend", "backend_version",
                   "platform"):
        if values(column):
            lines.append(f"- {column}: {values(column)}")
    if "train_seconds" in results:
        lines.append(f"- training time: {results['train_seconds'].sum() / 60:.1f} min in all, "
                     f"{np.median(results['train_seconds']):.0f} s median per run")
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md_path, png_path
