"""MNIST's uncompressed IDX files as NumPy arrays, for the Python reference scripts in examples/
(run as /usr/bin/python3 examples/<script>.py, which puts this folder on the import path)."""
import os

import numpy as np


def read_idx(path, header_bytes):
    with open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header_bytes)


def load(data_dir, prefix):
    """(images as uint8 (N, 784), labels as int64 (N,)) of the split prefix, "train" or "t10k"."""
    images = read_idx(os.path.join(data_dir, prefix + "-images-idx3-ubyte"), 16).reshape(-1, 784)
    labels = read_idx(os.path.join(data_dir, prefix + "-labels-idx1-ubyte"), 8)
    return images, labels.astype(np.int64)
