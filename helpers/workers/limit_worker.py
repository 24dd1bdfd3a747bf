"""Child process of `measure.physical_limit`: predicts one slice of the rows, no Spark.

Protocol (stdin/stdout, one line each): prints "ready" after loading data and model; then, for
each line "go" on stdin, predicts and prints "<t0> <t1> <cpu>" (monotonic s; cpu = this process's
CPU seconds while predicting, `time.process_time`); on end of input saves the last predictions to
OUT (.npy) and prints "saved".
"""

import sys
import time

import numpy as np

from helpers.model.data import feature_matrix, load_booster, predict


def main(lo: int, hi: int, rows: int, model_path: str, out: str) -> None:
    with open(model_path) as fh:
        booster = load_booster(fh.read())
    X = np.ascontiguousarray(feature_matrix(rows)[lo:hi])
    predict(booster, X[:10])  # warm the model's code paths
    print("ready", flush=True)
    pred = None
    for line in sys.stdin:
        if line.strip() != "go":
            break
        c0, t0 = time.process_time(), time.monotonic()
        pred = predict(booster, X)
        t1, c1 = time.monotonic(), time.process_time()
        print(f"{t0} {t1} {c1 - c0}", flush=True)
    if pred is not None:
        np.save(out, pred)
    print("saved", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
