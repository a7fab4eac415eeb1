"""Compare the figures of two result CSVs: does a rerun give the committed numbers?

    python benchmarks/compare_rows.py results/table_19b.csv /tmp/rerun/table_19b.csv
    python benchmarks/compare_rows.py --spread results/table_19b.csv \
        benchmarks/results/table_19b_jax.csv

Cells are matched on (arch, units, depth, seed); for every cell in both files it prints the
largest absolute difference of the figure columns (acc, val_acc, loss, val_loss, test_acc,
test_loss, params), and at the end how many cells are identical. Exit status 1 when any differs.

Runs that cannot give the same numbers (another backend draws other random numbers from the
same seed) are compared with ``--spread`` instead: for every (arch, units, depth) with seeds in
both files, the mean of each accuracy over the seeds in each file, and whether the two means lie
within two standard deviations of the seeds (the larger of the two files' standard deviations).
Exit status 1 when some mean lies outside.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

CELL = ["arch", "units", "depth", "seed"]
GROUP = ["arch", "units", "depth"]
FIGURES = ["acc", "val_acc", "loss", "val_loss", "test_acc", "test_loss", "params"]
ACCURACIES = ["acc", "val_acc", "test_acc"]


def identical(first: pd.DataFrame, second: pd.DataFrame) -> bool:
    """Print the largest difference per cell in both files; return whether all are zero."""
    first, second = first.set_index(CELL), second.set_index(CELL)
    both = first.index.intersection(second.index)
    if both.empty:
        print("no cell is in both files", file=sys.stderr)
        return False
    difference = (first.loc[both, FIGURES] - second.loc[both, FIGURES]).abs().max(axis=1)
    print(pd.DataFrame({"largest difference": difference}).to_string())
    same = int((difference == 0).sum())
    print(f"{same} of {len(both)} cells identical in {', '.join(FIGURES)}")
    print(f"only in the first: {len(first.index.difference(both))} cells; "
          f"only in the second: {len(second.index.difference(both))} cells")
    return same == len(both)


def within_spread(first: pd.DataFrame, second: pd.DataFrame) -> bool:
    """Print each group's mean accuracies in both files; return whether all are within 2 sd."""
    stats = [frame.groupby(GROUP)[ACCURACIES].agg(["mean", "std"]) for frame in (first, second)]
    both = stats[0].index.intersection(stats[1].index)
    if both.empty:
        print("no (arch, units, depth) is in both files", file=sys.stderr)
        return False
    rows, inside = [], 0
    for group in both:
        row = dict(zip(GROUP, group, strict=True))
        ok = True
        for figure in ACCURACIES:
            means = [s.loc[group, (figure, "mean")] for s in stats]
            sd = max(s.loc[group, (figure, "std")] for s in stats)
            row[figure] = f"{means[0]:.4f} vs {means[1]:.4f}"
            ok &= bool(abs(means[0] - means[1]) <= 2 * sd)
        row["within 2 sd"] = "yes" if ok else "NO"
        inside += ok
        rows.append(row)
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"{inside} of {len(both)} groups within two standard deviations of the seeds in "
          f"{', '.join(ACCURACIES)} (first file's mean vs second's)")
    return inside == len(both)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--spread", action="store_true",
                        help="compare the means over seeds with the seeds' spread instead")
    args = parser.parse_args()
    first, second = (pd.read_csv(path) for path in (args.first, args.second))
    ok = within_spread(first, second) if args.spread else identical(first, second)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
