"""Preprocessing speed and memory on the full IMDB train split: read + tokenize + vectorize.

    python benchmarks/preprocess.py --vectors ~/.cache/nlpia_lstm/vectors/word2vec-imdb-KEY.bin

"Cold" starts from an empty cache folder (read the archive, tokenize 25,000 reviews, build the
id matrix); "cached" repeats it with the token cache filled. The vectors are loaded once before
either is timed (their load time is reported on its own). Writes JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="IMDB archive or folder (default: found as usual)")
    parser.add_argument("--vectors", required=True, help="word2vec binary file")
    parser.add_argument("--maxlen", type=int, default=400)
    parser.add_argument("--out", default="benchmarks/results/preprocess.json")
    args = parser.parse_args()

    os.environ["NLPIA_LSTM_CACHE"] = tempfile.mkdtemp(prefix="nlpia-bench-")
    from nlpia_lstm.tokens import ids_matrix, load_imdb_tokens
    from nlpia_lstm.vectors import embedding_matrix, load_word_vectors

    started = time.perf_counter()
    matrix, key_to_row = embedding_matrix(load_word_vectors(args.vectors, limit=None))
    load_seconds = time.perf_counter() - started

    timings = {}
    for run in ("cold", "cached"):
        started = time.perf_counter()
        tokens = load_imdb_tokens(args.data, ("train",))["train"]
        x = ids_matrix(tokens, key_to_row, args.maxlen)
        timings[run] = round(time.perf_counter() - started, 2)

    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    record = {
        "reviews": len(tokens),
        "tokens": int(tokens.offsets[-1]),
        "maxlen": args.maxlen,
        "cold_seconds": timings["cold"],
        "cached_seconds": timings["cached"],
        "vectors_load_seconds": round(load_seconds, 2),
        "vectors": f"{Path(args.vectors).name}: {matrix.shape[0] - 1} words x {matrix.shape[1]}",
        "id_matrix_mib": round(x.nbytes / 2**20, 1),
        "dense_float32_gib_computed": round(len(tokens) * args.maxlen * matrix.shape[1] * 4 / 2**30,
                                            2),
        "peak_rss_gib_main": round(peak_self, 3),
        "peak_rss_gib_largest_worker": round(peak_children, 3),
        "cpu_count": os.cpu_count(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
