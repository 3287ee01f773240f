"""Training batches of randomly shifted digits, so a network sees more variety.

Each image is moved by up to ``max_shift`` pixels in each direction, drawn
anew every epoch; the empty border MNIST leaves around its digits makes this
a shift of the digit, never a crop of it.
"""

import numpy as np

from helpers.compat import import_mxnet
from helpers.iterators import make_iterator

mx = import_mxnet()


def shifted(padded, max_shift, rng):
    """Cut a randomly placed 28x28 window out of each padded image."""
    count = padded.shape[0]
    size = padded.shape[1] - 2 * max_shift
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size), (1, 2))
    rows = rng.integers(0, 2 * max_shift + 1, count)
    columns = rng.integers(0, 2 * max_shift + 1, count)
    return windows[np.arange(count), rows, columns]


class ShiftingIter(mx.io.DataIter):
    """Shuffled batches of (N, 1, 28, 28) float32 images, each randomly shifted."""

    def __init__(self, images, labels, batch_size=100, max_shift=2, seed=0):
        super().__init__(batch_size)
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if max_shift < 0:
            raise ValueError(f"max_shift must be 0 or more, got {max_shift}")
        edge = ((0, 0), (max_shift, max_shift), (max_shift, max_shift))
        self.padded = np.pad(np.asarray(images), edge)
        self.labels = np.asarray(labels, dtype=np.float32)
        self.max_shift = max_shift
        self.num_data = len(self.labels)
        self.rng = np.random.default_rng(seed)
        self.provide_data = [
            mx.io.DataDesc("data", (batch_size, 1) + np.shape(images)[1:])
        ]
        self.provide_label = [mx.io.DataDesc("softmax_label", (batch_size,))]
        self.reset()

    def reset(self):
        self.order = self.rng.permutation(self.num_data)
        self.cursor = 0

    def next(self):
        if self.cursor + self.batch_size > self.num_data:
            raise StopIteration
        chosen = self.order[self.cursor : self.cursor + self.batch_size]
        self.cursor += self.batch_size
        images = shifted(self.padded[chosen], self.max_shift, self.rng)
        data = images[:, np.newaxis].astype(np.float32) / 255
        return mx.io.DataBatch(
            data=[mx.nd.array(data)], label=[mx.nd.array(self.labels[chosen])], pad=0
        )


def training_iterator(images, labels, recipe):
    """The training batches a Recipe asks for: shifted when recipe.max_shift > 0."""
    if recipe.max_shift:
        return ShiftingIter(
            images, labels, recipe.batch_size, recipe.max_shift, seed=recipe.seed
        )
    return make_iterator(images, labels, recipe.batch_size, shuffle=True)
