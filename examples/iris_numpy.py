#!/usr/bin/python3
"""The iris example's recipe in NumPy (the Go tutorial's algorithm), to compare test accuracies
over many random splits with tapegrad's.

4-3-3 network, sigmoid hidden and output units, weights and biases drawn from U[0, 1), one-hot
targets, full-batch gradient descent on the summed quadratic cost 0.5 sum (a - y)^2 with learning
rate 0.3 for 5000 epochs, test accuracy by the largest output. --test-share and --scale choose
the split and the min-max scaling: the iris example uses 1/3 and the training set's ranges; the
tutorial (D. Whitenack, "Building a neural network from scratch in Go") ships a fixed split of
120 training and 30 test flowers scaled with the ranges of all 150.

  /usr/bin/python3 examples/iris_numpy.py --seeds 100 [--test-share 0.2 --scale all]
"""
import argparse
import csv
import json

import numpy as np


def load(path):
    with open(path) as f:
        rows = list(csv.reader(f))[1:]
    species = sorted({r[4] for r in rows})
    x = np.array([[float(v) for v in r[:4]] for r in rows])
    y = np.eye(len(species))[[species.index(r[4]) for r in rows]]
    return x, y


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def run(seed, x, y, args):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = int(round(args.test_share * len(x)))
    test, train = order[:n_test], order[n_test:]
    fit = x if args.scale == "all" else x[train]
    low, high = fit.min(0), fit.max(0)
    x = (x - low) / (high - low)
    w1, b1 = rng.random((4, args.hidden)), rng.random(args.hidden)
    w2, b2 = rng.random((args.hidden, 3)), rng.random(3)
    xt, yt = x[train], y[train]
    for _ in range(args.epochs):
        h = sigmoid(xt @ w1 + b1)
        a = sigmoid(h @ w2 + b2)
        d2 = (a - yt) * a * (1 - a)          # gradient of 0.5 sum (a - y)^2 at the output's input
        d1 = (d2 @ w2.T) * h * (1 - h)
        w2 -= args.lr * h.T @ d2
        b2 -= args.lr * d2.sum(0)
        w1 -= args.lr * xt.T @ d1
        b1 -= args.lr * d1.sum(0)
    out = sigmoid(sigmoid(x[test] @ w1 + b1) @ w2 + b2)
    return float((out.argmax(1) == y[test].argmax(1)).mean()), len(test)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=100, help="runs, with seeds 1..N")
    parser.add_argument("--test-share", type=float, default=1 / 3)
    parser.add_argument("--scale", choices=["train", "all"], default="train")
    parser.add_argument("--epochs", type=int, default=5000)
    parser.add_argument("--lr", type=float, default=0.3)
    parser.add_argument("--hidden", type=int, default=3)
    parser.add_argument("--data", default="examples/data/iris.csv")
    args = parser.parse_args()
    x, y = load(args.data)
    accuracies = []
    for seed in range(1, args.seeds + 1):
        accuracy, n_test = run(seed, x, y, args)
        accuracies.append(accuracy)
    a = np.array(accuracies)
    print(json.dumps(dict(framework="numpy", runs=len(a), test_flowers=n_test, mean=a.mean(), std=a.std(ddof=1),
                          min=a.min(), median=float(np.median(a)), max=a.max(),
                          histogram={f"{v:.4f}": int((a == v).sum()) for v in np.unique(a)})))


if __name__ == "__main__":
    main()
