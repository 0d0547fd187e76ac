#!/usr/bin/env python3
"""Trask's "Tuning alpha" XOR network (A Neural Network in 11 Lines of Python, part 2) in NumPy,
ported to Python 3 and nothing else changed: examples/xor.cpp prints what this prints.

    python3 examples/xor_numpy.py [--hidden N] [--iterations N]

tests/test_xor.cpp runs it, when NumPy is there, with the BLAS kernel tapegrad uses
(OPENBLAS_CORETYPE) and NumPy's AVX-512 exp disabled (NPY_DISABLE_CPU_FEATURES), and compares the
two outputs character for character.
"""
import argparse

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--hidden", type=int, default=4)
parser.add_argument("--iterations", type=int, default=60000)
args = parser.parse_args()

alphas = [0.001, 0.01, 0.1, 1, 10, 100, 1000]


def sigmoid(x):
    output = 1 / (1 + np.exp(-x))
    return output


def sigmoid_output_to_derivative(output):
    return output * (1 - output)


X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
y = np.array([[0], [1], [1], [0]])

for alpha in alphas:
    print("\nTraining With Alpha:" + str(alpha))
    np.random.seed(1)

    synapse_0 = 2 * np.random.random((3, args.hidden)) - 1
    synapse_1 = 2 * np.random.random((args.hidden, 1)) - 1

    for j in range(args.iterations):
        layer_0 = X
        layer_1 = sigmoid(np.dot(layer_0, synapse_0))
        layer_2 = sigmoid(np.dot(layer_1, synapse_1))

        layer_2_error = layer_2 - y

        if (j % 10000) == 0:
            print("Error after " + str(j) + " iterations:" + str(np.mean(np.abs(layer_2_error))))

        layer_2_delta = layer_2_error * sigmoid_output_to_derivative(layer_2)
        layer_1_error = layer_2_delta.dot(synapse_1.T)
        layer_1_delta = layer_1_error * sigmoid_output_to_derivative(layer_1)

        synapse_1 -= alpha * (layer_1.T.dot(layer_2_delta))
        synapse_0 -= alpha * (layer_0.T.dot(layer_1_delta))

    print("Synapse 0")
    print(synapse_0)
    print("Synapse 1")
    print(synapse_1)
