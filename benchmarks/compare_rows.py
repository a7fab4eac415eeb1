"""Compare the figures of two result CSVs cell by cell: does a rerun give the committed numbers?

    python benchmarks/compare_rows.py results/table_19b.csv /tmp/rerun/table_19b.csv

Cells are matched on (arch, units, depth, seed); for every cell in both files it prints the
largest absolute difference of the figure columns (acc, val_acc, loss, val_loss, test_acc,
test_loss, params), and at the end how many cells are identical. Exit status 1 when any differs.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

CELL = ["arch", "units", "depth", "seed"]
FIGURES = ["acc", "val_acc", "loss", "val_loss", "test_acc", "test_loss", "params"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first")
    parser.add_argument("second")
    args = parser.parse_args()
    first, second = (pd.read_csv(path).set_index(CELL) for path in (args.first, args.second))
    both = first.index.intersection(second.index)
    if both.empty:
        print("no cell is in both files", file=sys.stderr)
        return 1
    difference = (first.loc[both, FIGURES] - second.loc[both, FIGURES]).abs().max(axis=1)
    print(pd.DataFrame({"largest difference": difference}).to_string())
    identical = int((difference == 0).sum())
    print(f"{identical} of {len(both)} cells identical in {', '.join(FIGURES)}")
    print(f"only in {args.first}: {len(first.index.difference(both))} cells; "
          f"only in {args.second}: {len(second.index.difference(both))} cells")
    return 0 if identical == len(both) else 1


if __name__ == "__main__":
    sys.exit(main())
