"""The workbook's two networks and training recipe in PyTorch, as a speed reference.

Mirrors helpers.networks and helpers.training: the same layers, Xavier
(Glorot) normal weights with the same magnitude and zero biases, SGD with
momentum, weight decay on weights only (as MXNet's optimizer does), and a
cosine learning rate updated after every batch. One difference is left: MXNet
scales the momentum buffer by the learning rate of each step, PyTorch scales
the buffer by the current one, which differs only while the rate changes.
PyTorch is optional: import this module only after checking that ``torch``
is importable.
"""

import math
import time

import numpy as np
import torch
from torch import nn

from helpers.augment import shifted
from helpers.training import XAVIER_MAGNITUDE


def mlp():
    """784-128-64-10 with ReLU, as helpers.networks.mlp (softmax in the loss)."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 128),
        nn.ReLU(),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def lenet():
    """LeNet as helpers.networks.lenet: tanh convolutions, max-pooling, fc 500."""
    return nn.Sequential(
        nn.Conv2d(1, 20, kernel_size=5),
        nn.Tanh(),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Conv2d(20, 50, kernel_size=5),
        nn.Tanh(),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(800, 500),
        nn.Tanh(),
        nn.Linear(500, 10),
    )


NETWORKS = {"mlp": mlp, "lenet": lenet}


def initialize(net, magnitude=XAVIER_MAGNITUDE):
    """MXNet's Xavier(rnd_type="gaussian", factor_type="avg") and zero biases.

    MXNet draws from N(0, sqrt(magnitude / ((fan_in + fan_out) / 2))), which
    is Glorot normal with gain sqrt(magnitude).
    """
    for layer in net.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_normal_(layer.weight, gain=math.sqrt(magnitude))
            nn.init.zeros_(layer.bias)
    return net


def cosine_learning_rate(recipe, update, total_updates):
    """MXNet's CosineScheduler at update number update (counted from 1)."""
    progress = min(update, total_updates) / total_updates
    spread = recipe.learning_rate - recipe.final_learning_rate
    return recipe.final_learning_rate + spread * (1 + math.cos(math.pi * progress)) / 2


def make_optimizer(net, recipe):
    """SGD with momentum; weight decay on weights only, not on biases."""
    weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in net.named_parameters() if not name.endswith("weight")]
    return torch.optim.SGD(
        [
            {"params": weights, "weight_decay": recipe.weight_decay},
            {"params": biases, "weight_decay": 0.0},
        ],
        lr=recipe.learning_rate,
        momentum=recipe.momentum,
    )


def to_tensors(images, labels):
    """(N, 28, 28) uint8 images and labels as (N, 1, 28, 28) float 0-1 and int64."""
    images = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1)
    return images.float().div_(255), torch.from_numpy(labels.astype(np.int64))


def plain_batches(images, labels, batch_size):
    """Shuffled batches of the images as they are, from tensors made once."""
    order = torch.randperm(len(labels))
    images, labels = images[order], labels[order]
    for first in range(0, len(labels), batch_size):
        yield images[first : first + batch_size], labels[first : first + batch_size]


class ShiftedBatches:
    """Shuffled batches of randomly shifted digits, as helpers.augment makes them."""

    def __init__(self, images, labels, max_shift, seed):
        edge = ((0, 0), (max_shift, max_shift), (max_shift, max_shift))
        self.padded = np.pad(np.asarray(images), edge)
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.max_shift = max_shift
        self.rng = np.random.default_rng(seed)

    def __call__(self, batch_size):
        order = self.rng.permutation(len(self.labels))
        for first in range(0, len(order) - batch_size + 1, batch_size):
            chosen = order[first : first + batch_size]
            images = shifted(self.padded[chosen], self.max_shift, self.rng)
            images = torch.from_numpy(images[:, np.newaxis].astype(np.float32) / 255)
            yield images, self.labels[chosen]


class Trainer:
    """One network, its optimizer and the data, trained an epoch at a time."""

    def __init__(self, name, mnist, recipe):
        torch.manual_seed(recipe.seed)
        self.recipe = recipe
        self.net = initialize(NETWORKS[name]())
        self.optimizer = make_optimizer(self.net, recipe)
        self.loss = nn.CrossEntropyLoss()
        if recipe.max_shift:
            self.batches = ShiftedBatches(
                mnist.train_images, mnist.train_labels, recipe.max_shift, recipe.seed
            )
        else:
            train = to_tensors(mnist.train_images, mnist.train_labels)
            self.batches = lambda batch_size: plain_batches(*train, batch_size)
        self.test = to_tensors(mnist.test_images, mnist.test_labels)
        self.batches_per_epoch = -(-len(mnist.train_labels) // recipe.batch_size)
        self.total_updates = max(recipe.num_epochs * self.batches_per_epoch, 1)
        self.updates = 0

    def train_one_epoch(self):
        """One shuffled pass; return (accuracy, loss, seconds, samples).

        Accuracy and mean cross-entropy are summed batch by batch, as
        helpers.training does for MXNet, and read once at the end.
        """
        self.net.train()
        start = time.perf_counter()
        correct = torch.zeros((), dtype=torch.int64)
        total_loss = torch.zeros(())
        samples = 0
        for batch_images, batch_labels in self.batches(self.recipe.batch_size):
            self.updates += 1
            learning_rate = cosine_learning_rate(
                self.recipe, self.updates, self.total_updates
            )
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate
            logits = self.net(batch_images)
            loss = self.loss(logits, batch_labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            correct += (logits.argmax(dim=1) == batch_labels).sum()
            total_loss += loss.detach() * len(batch_labels)
            samples += len(batch_labels)
        accuracy, loss = correct.item() / samples, total_loss.item() / samples
        return accuracy, loss, time.perf_counter() - start, samples

    @torch.no_grad()
    def test_accuracy(self):
        images, labels = self.test
        self.net.eval()
        correct = 0
        for first in range(0, len(labels), 1000):
            logits = self.net(images[first : first + 1000])
            correct += (logits.argmax(dim=1) == labels[first : first + 1000]).sum()
        return int(correct) / len(labels)
