#!/usr/bin/python3
"""The mnist example's "mlp" recipe in PyTorch, to compare test accuracies with tapegrad's.

784-256-128-10 ReLU with dropout 0.2 after each hidden ReLU (--dropout), nn.Linear's default
initialisation (or with --init kaiming He et al.'s N(0, 2 / fan_in) weights,
kaiming_normal_(nonlinearity="relu"), and zero biases in all three layers), cross-entropy, Adam
(lr 1e-3, the other settings PyTorch's defaults), batches of 128 reshuffled every epoch (DataLoader,
shuffle=True, the last partial batch kept), pixels / 255; trains on the first 50,000 training
images, validates on the last 10,000 and tests on the 10,000 test images after every epoch, as
examples/mnist.cpp does. Prints one JSON line per seed with the per-epoch accuracies.

  /usr/bin/python3 examples/mnist_torch.py --seeds 1 2 3 4 5 [--validation 0] [--init kaiming] [--dropout 0]
"""
import argparse
import json

import numpy as np
import torch
import torch.nn.functional as F

import mnist_idx


def load(data_dir, prefix):
    images, labels = mnist_idx.load(data_dir, prefix)
    return torch.from_numpy(images.astype(np.float32) / 255.0), torch.from_numpy(labels)


@torch.no_grad()
def accuracy(model, x, y):
    return (model(x).argmax(1) == y).double().mean().item()


def run(seed, args, train_x, train_y, test_x, test_y):
    torch.manual_seed(seed)
    end = len(train_x) - args.validation
    train = torch.utils.data.TensorDataset(train_x[:end], train_y[:end])
    val_x, val_y = train_x[end:], train_y[end:]
    layers = [torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Dropout(args.dropout), torch.nn.Linear(256, 128),
              torch.nn.ReLU(), torch.nn.Dropout(args.dropout), torch.nn.Linear(128, 10)]
    model = torch.nn.Sequential(*[layer for layer in layers if not isinstance(layer, torch.nn.Dropout) or args.dropout > 0])
    if args.init == "kaiming":
        for layer in model:
            if isinstance(layer, torch.nn.Linear):
                torch.nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
                torch.nn.init.zeros_(layer.bias)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(train, batch_size=128, shuffle=True)
    val, test = [], []
    for _ in range(args.epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        model.eval()
        val.append(accuracy(model, val_x, val_y))
        test.append(accuracy(model, test_x, test_y))
    print(json.dumps(dict(framework="torch", seed=seed, init=args.init, dropout=args.dropout, validation=args.validation,
                          val_accuracy=val, test_accuracy=test)), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--validation", type=int, default=10000, help="last training images held out")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--init", choices=["default", "kaiming"], default="default",
                        help="default: nn.Linear's; kaiming: N(0, 2 / fan_in) weights, zero biases")
    parser.add_argument("--dropout", type=float, default=0.2, help="after each hidden ReLU (0: none)")
    parser.add_argument("--data", default="datasets/mnist")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train_x, train_y = load(args.data, "train")
    test_x, test_y = load(args.data, "t10k")
    for seed in args.seeds:
        run(seed, args, train_x, train_y, test_x, test_y)


if __name__ == "__main__":
    main()
