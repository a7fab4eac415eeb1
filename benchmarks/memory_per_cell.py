"""Resident memory after each of N models built with a large frozen embedding, fresh or shared.

    python benchmarks/memory_per_cell.py --out benchmarks/results/memory_per_cell.json

Each model holds a 75,000 x 300 float32 embedding (86 MiB, about the size of the grid's
word2vec matrix) and takes one short training step. "fresh" builds a new frozen Embedding per
model, as the grid did first; "shared" reuses one layer (``models.frozen_embedding``), as the
grid does now. Each mode runs in its own process.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from pathlib import Path


def run(mode: str, n_models: int) -> list[float]:
    import numpy as np

    from nlpia_lstm.models import build_model, frozen_embedding

    def rss_mib() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20

    rng = np.random.default_rng(0)
    matrix = rng.random((75_000, 300), dtype=np.float32)
    x = rng.integers(0, 75_000, (64, 40)).astype("int32")
    y = rng.integers(0, 2, 64).astype("float32")
    shared = frozen_embedding(matrix) if mode == "shared" else None
    sizes = []
    for _ in range(n_models):
        model = build_model("lstm", 4, maxlen=40, embeddings=shared if shared else matrix)
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        del model
        gc.collect()
        sizes.append(round(rss_mib()))
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--out", default="benchmarks/results/memory_per_cell.json")
    parser.add_argument("--mode", choices=["fresh", "shared"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run(args.mode, args.models)))
        return 0
    record = {}
    for mode in ("fresh", "shared"):
        done = subprocess.run([sys.executable, __file__, "--mode", mode, "--models",
                               str(args.models)], capture_output=True, text=True, check=True)
        sizes = json.loads(done.stdout.strip().splitlines()[-1])
        record[mode] = {"rss_mib_after_each_model": sizes,
                        "growth_mib_per_model": round((sizes[-1] - sizes[0]) / (len(sizes) - 1))}
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
