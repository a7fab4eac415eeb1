"""Keras's recurrent layers against nlpia_lstm.recurrent's, side by side in one process.

    python benchmarks/recurrent_layers.py --out benchmarks/results/recurrent_layers.json

For each architecture, the chapter's model (frozen 300-d Embedding of 70,000 rows, 400 steps,
Dropout, Flatten, Dense) is built twice from the same seed, once on Keras's layers and once on
the fast ones, and both train on the same random batches of 32, in alternating rounds, so that
the machine's ups and downs hit both alike. Reports the median milliseconds per training batch
(wall and process CPU) over the rounds, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone

os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from nlpia_lstm import recurrent  # noqa: E402

MAXLEN, DIMS, ROWS = 400, 300, 70_000
ARCHS = {"simple_rnn": ("SimpleRNN", False), "birnn": ("SimpleRNN", True),
         "lstm": ("LSTM", False), "bilstm": ("LSTM", True), "gru": ("GRU", False)}


def model(arch: str, units: int, module) -> keras.Model:
    """The chapter's classifier with its recurrent layer taken from ``module``."""
    kind, bidirectional = ARCHS[arch]
    keras.utils.set_random_seed(0)
    rnn = getattr(module, kind)(units, return_sequences=True)
    if bidirectional:
        rnn = module.Bidirectional(rnn)
    net = keras.Sequential([keras.Input((MAXLEN,), dtype="int32"),
                            layers.Embedding(ROWS, DIMS, trainable=False), rnn,
                            layers.Dropout(0.2), layers.Flatten(),
                            layers.Dense(1, activation="sigmoid")])
    net.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return net


def measure(arch: str, units: int, batches: int, rounds: int) -> dict:
    rng = np.random.default_rng(0)
    x = rng.integers(0, ROWS, size=(32 * batches, MAXLEN)).astype("int32")
    y = (rng.random(32 * batches) > 0.5).astype("float32")
    nets = {"keras": model(arch, units, layers), "fast": model(arch, units, recurrent)}
    for net in nets.values():  # trace and warm up
        net.fit(x[:64], y[:64], batch_size=32, verbose=0)
    times = {name: {"wall": [], "cpu": []} for name in nets}
    for _ in range(rounds):
        for name, net in nets.items():
            wall, cpu = time.perf_counter(), time.process_time()
            net.fit(x, y, batch_size=32, epochs=1, verbose=0)
            times[name]["wall"].append(1e3 * (time.perf_counter() - wall) / batches)
            times[name]["cpu"].append(1e3 * (time.process_time() - cpu) / batches)
    out = {name: {f"{kind}_ms_per_batch": round(float(np.median(values)), 1)
                  for kind, values in t.items()} for name, t in times.items()}
    out["speedup_wall"] = round(out["keras"]["wall_ms_per_batch"]
                                / out["fast"]["wall_ms_per_batch"], 2)
    out["speedup_cpu"] = round(out["keras"]["cpu_ms_per_batch"]
                               / out["fast"]["cpu_ms_per_batch"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--cells", default="birnn:50,birnn:5,birnn:1,lstm:50,lstm:5,gru:50,"
                        "bilstm:50,simple_rnn:50", help="arch:units, comma-separated")
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for cell in args.cells.split(","):
        arch, units = cell.split(":")
        results[cell] = measure(arch, int(units), args.batches, args.rounds)
        print(cell, json.dumps(results[cell]), flush=True)
    record = {"cells": results, "batches": args.batches, "rounds": args.rounds,
              "threads": os.environ.get("TF_NUM_INTRAOP_THREADS", "TensorFlow's default"),
              "keras_version": keras.__version__, "backend": keras.backend.backend(),
              "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
              "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    with open(args.out, "w") as f:
        json.dump(record, f, indent=2)


if __name__ == "__main__":
    main()
