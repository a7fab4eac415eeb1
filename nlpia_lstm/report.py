"""Summarize a results CSV over seeds and set it beside the lecture's published table.

Beside the table and its plot, the report draws the learning curves when the grid's per-epoch
history (``<experiment>.history.csv``) lies beside the CSV, and the test split's confusion
matrix of the first LSTM cell when the CSV has confusion counts.
"""

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

__all__ = ["load_published", "load_results", "load_history", "summarize", "compare",
           "plot_curves", "plot_confusion", "write_report"]

log = logging.getLogger(__name__)

METRICS = ("acc", "val_acc", "test_acc", "test_auc", "test_f1", "test_precision", "test_recall")
# Test figures shown after test_acc when the CSV has them, and their headings.
EXTRA_TEST = {"test_auc": "test AUC", "test_f1": "test F1", "test_precision": "test precision",
              "test_recall": "test recall"}
CONFUSION = ("test_tn", "test_fp", "test_fn", "test_tp")
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
    return _label_stacked(results)


def _label_stacked(results: pd.DataFrame) -> pd.DataFrame:
    """A stacked model is its own architecture in the table: "lstm_x2" for two LSTM layers."""
    if "depth" in results:
        stacked = results["depth"].fillna(1).astype(int) > 1
        results.loc[stacked, "arch"] = (results.loc[stacked, "arch"] + "_x"
                                        + results.loc[stacked, "depth"].astype(int).astype(str))
    return results


def load_history(csv_path: str | os.PathLike) -> pd.DataFrame | None:
    """The per-epoch history beside a results CSV (``<name>.history.csv``), or ``None``.

    Raises
    ------
    DataError
        The history file is there but not readable as the grid writes it.
    """
    path = Path(csv_path).with_name(f"{Path(csv_path).stem}.history.csv")
    if not path.is_file():
        return None
    try:
        history = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable history CSV ({type(exc).__name__})") from exc
    missing = {"arch", "units", "seed", "epoch", "acc", "val_acc", "loss", "val_loss"} - set(
        history.columns)
    if missing:
        raise DataError(f"{path}: missing column(s) {sorted(missing)}")
    return _label_stacked(history) if len(history) else None


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
    """Render :func:`compare`'s output as a Markdown table.

    Test columns (``test_acc``, then test AUC, F1, precision and recall) appear when the
    summary has them.
    """
    tests = {"test_acc": "test_acc", **EXTRA_TEST}
    tests = {m: head for m, head in tests.items() if f"{m}_mean" in table}
    head = ["arch", "units", "seeds", "published acc", "acc", "Δ acc", "published val_acc",
            "val_acc", "Δ val_acc", *tests.values()]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table.to_dict("records"):
        cells = [_LABELS.get(r["arch"], r["arch"]), str(r["units"]), str(r["seeds"]),
                 _fmt(r["pub_acc"]), _fmt(r["acc_mean"], r["acc_std"]), _signed(r["d_acc"]),
                 _fmt(r["pub_val_acc"]), _fmt(r["val_acc_mean"], r["val_acc_std"]),
                 _signed(r["d_val_acc"])]
        cells += [_fmt(r[f"{m}_mean"], r[f"{m}_std"]) for m in tests]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(table: pd.DataFrame, path: str | os.PathLike, title: str = "") -> Path:
    """Plot accuracy against units per architecture, published points marked with crosses."""
    import matplotlib

    plt = _pyplot()
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


def _pyplot():
    """Matplotlib's pyplot on the Agg backend: files only, no window."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: pd.DataFrame, path: str | os.PathLike, title: str = "") -> Path:
    """Plot accuracy and loss per epoch, mean over seeds, from :func:`load_history`'s rows.

    One row of subplots per architecture, one colour per unit count; solid lines are the
    training figures, dashed ones the validation figures.
    """
    plt = _pyplot()
    curves = history.groupby(["arch", "units", "epoch"])[["acc", "val_acc", "loss",
                                                          "val_loss"]].mean().reset_index()
    order = {a: i for i, a in enumerate(ARCHITECTURES)}
    archs = sorted(curves["arch"].unique(), key=lambda a: (order.get(a, len(order)), a))
    fig, axes = plt.subplots(len(archs), 2, figsize=(11, 2.8 * len(archs) + 0.6),
                             squeeze=False, sharex=True)
    for (ax_acc, ax_loss), arch in zip(axes, archs, strict=True):
        rows = curves[curves["arch"] == arch]
        for i, (units, cell) in enumerate(rows.groupby("units")):
            for ax, metric in ((ax_acc, "acc"), (ax_loss, "loss")):
                ax.plot(cell["epoch"], cell[metric], color=f"C{i}", marker="o",
                        label=f"{units} unit{'' if units == 1 else 's'}")
                ax.plot(cell["epoch"], cell[f"val_{metric}"], color=f"C{i}", marker="o",
                        linestyle="--")
        ax_acc.set_ylabel(f"{_LABELS.get(arch, arch)}\naccuracy")
        ax_loss.set_ylabel("loss")
        ax_acc.legend(fontsize=7, loc="best", ncol=2)
        for ax in (ax_acc, ax_loss):
            ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
        ax.set_xticks(sorted(curves["epoch"].unique()))
    fig.suptitle(f"{title + ': ' if title else ''}learning curves, mean over seeds "
                 "(solid: training, dashed: validation)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_confusion(results: pd.DataFrame, path: str | os.PathLike) -> Path | None:
    """Plot the test confusion matrix of the first LSTM cell (most units), summed over seeds.

    Returns ``None``, writing nothing, when no LSTM row has confusion counts.
    """
    if not set(CONFUSION) <= set(results.columns):
        return None
    lstm = results[(results["arch"] == "lstm") & results[list(CONFUSION)].notna().all(axis=1)]
    if lstm.empty:
        return None
    units = lstm["units"].max()
    cell = lstm[lstm["units"] == units]
    tn, fp, fn, tp = (int(cell[c].sum()) for c in CONFUSION)
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = _pyplot()
    display = ConfusionMatrixDisplay(np.array([[tn, fp], [fn, tp]]),
                                     display_labels=["negative", "positive"])
    display.plot(cmap="Blues", values_format="d", colorbar=False)
    seeds = ", ".join(str(s) for s in sorted(cell["seed"].unique()))
    display.ax_.set_title(f"LSTM {units} units, test split (seeds {seeds} summed)")
    display.figure_.tight_layout()
    display.figure_.savefig(path, dpi=100)
    plt.close(display.figure_)
    return Path(path)


def write_report(
    csv_path: str | os.PathLike, out_dir: str | os.PathLike | None = None
) -> dict[str, Path]:
    """Write the report of a results CSV: Markdown, plot, and where the data allow, figures.

    Parameters
    ----------
    csv_path : path-like
        The results CSV written by the grid.
    out_dir : path-like, optional
        Where the files go; beside the CSV by default.

    Returns
    -------
    dict
        The paths written: ``report`` (``<name>.md``, the table beside the published figures)
        and ``plot`` (``<name>.png``) always; ``curves`` (``<name>_curves.png``) when
        ``<name>.history.csv`` lies beside the CSV; ``confusion`` (``<name>_confusion.png``)
        when an LSTM cell has confusion counts.
    """
    csv_path = Path(csv_path)
    results = load_results(csv_path)
    history = load_history(csv_path)
    table = compare(summarize(results), load_published())
    out_dir = Path(out_dir) if out_dir else csv_path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, png_path = out_dir / f"{csv_path.stem}.md", out_dir / f"{csv_path.stem}.png"
    plot(table, png_path, title=csv_path.stem)
    written = {"report": md_path, "plot": png_path}
    if history is not None:
        written["curves"] = plot_curves(history, out_dir / f"{csv_path.stem}_curves.png",
                                        title=csv_path.stem)
    confusion = plot_confusion(results, out_dir / f"{csv_path.stem}_confusion.png")
    if confusion is not None:
        written["confusion"] = confusion

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
        "`test_acc` scores the official IMDB test split."
        + (" Test AUC, F1, precision and recall score it too, a review counting as positive "
           "when the model gives it more than 0.5." if "test_auc_mean" in table else ""),
        "",
        markdown_table(table),
        "",
        f"![accuracy against units]({png_path.name})",
        "",
    ]
    if "curves" in written:
        lines += [f"![learning curves]({written['curves'].name})", ""]
    if "confusion" in written:
        lines += [f"![test confusion matrix]({written['confusion'].name})", ""]
    lines += ["## How these were made", ""]
    for column in ("data", "n_train", "n_val", "n_test", "vectors", "epochs", "batch_size",
                   "maxlen", "optimizer", "keras_version", "backend",
                   "backend_version", "platform"):
        if values(column):
            lines.append(f"- {column}: {values(column)}")
    if "train_seconds" in results:
        lines.append(f"- training time: {results['train_seconds'].sum() / 60:.1f} min in all, "
                     f"{np.median(results['train_seconds']):.0f} s median per run")
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written
