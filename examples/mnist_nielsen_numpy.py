#!/usr/bin/python3
"""The mnist example's "nielsen" recipe in NumPy (float64), to compare test accuracies with
tapegrad's: the algorithm of network.py from Nielsen's "Neural Networks and Deep Learning",
chapter 1, with each mini-batch's per-sample gradients summed by matrix products.

784-30-10 sigmoid network, weights and biases from N(0, 1), quadratic cost 0.5 ||a - y||^2
against one-hot targets, w <- w - eta/m * (sum of the batch's gradients) with eta 3.0 and m 10,
the training data reshuffled every epoch; trains on the first 50,000 training images (pixels
/ 255) and tests on the 10,000 test images after every epoch. One JSON line per seed.

  /usr/bin/python3 examples/mnist_nielsen_numpy.py --seeds 1 2 3 [--data datasets/mnist]
"""
import argparse
import json

import numpy as np

import mnist_idx


def load(data_dir, prefix):
    images, labels = mnist_idx.load(data_dir, prefix)
    return images / 255.0, labels


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def run(seed, args, train_x, train_y, test_x, test_y):
    rng = np.random.default_rng(seed)
    w1, b1 = rng.standard_normal((784, 30)), rng.standard_normal(30)
    w2, b2 = rng.standard_normal((30, 10)), rng.standard_normal(10)
    targets = np.eye(10)[train_y]
    m, eta = 10, 3.0
    test = []
    for _ in range(args.epochs):
        order = rng.permutation(len(train_x))
        for begin in range(0, len(order), m):
            batch = order[begin:begin + m]
            x, y = train_x[batch], targets[batch]
            h = sigmoid(x @ w1 + b1)
            a = sigmoid(h @ w2 + b2)
            d2 = (a - y) * a * (1 - a)  # per sample: dC/dz of the output layer, C = 0.5 ||a - y||^2
            d1 = (d2 @ w2.T) * h * (1 - h)
            w2 -= eta / len(batch) * (h.T @ d2)
            b2 -= eta / len(batch) * d2.sum(0)
            w1 -= eta / len(batch) * (x.T @ d1)
            b1 -= eta / len(batch) * d1.sum(0)
        out = sigmoid(sigmoid(test_x @ w1 + b1) @ w2 + b2)
        test.append(float((out.argmax(1) == test_y).mean()))
    print(json.dumps(dict(framework="numpy", seed=seed, test_accuracy=test)), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--data", default="datasets/mnist")
    args = parser.parse_args()
    train_x, train_y = load(args.data, "train")
    test_x, test_y = load(args.data, "t10k")
    for seed in args.seeds:
        run(seed, args, train_x[:50000], train_y[:50000], test_x, test_y)


if __name__ == "__main__":
    main()
