"""Feed MNIST to MXNet: images as float32 NCHW batches in 0-1."""

import numpy as np

from helpers.compat import import_mxnet

mx = import_mxnet()

BATCH_SIZE = 100


def to_nchw(images):
    """Turn (N, 28, 28) uint8 images into (N, 1, 28, 28) float32 in 0-1."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(
            f"expected images of shape (N, height, width), got {images.shape}"
        )
    return (
        images.reshape(images.shape[0], 1, *images.shape[1:]).astype(np.float32) / 255
    )


def make_iterator(images, labels, batch_size=BATCH_SIZE, shuffle=False):
    """Return an NDArrayIter over images and labels, named as the networks expect."""
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return mx.io.NDArrayIter(
        data=to_nchw(images),
        label=np.asarray(labels, dtype=np.float32),
        batch_size=batch_size,
        shuffle=shuffle,
        label_name="softmax_label",
    )


def mnist_iterators(mnist, batch_size=BATCH_SIZE):
    """Return (train_iter, test_iter): shuffled training, ordered test batches."""
    train_iter = make_iterator(
        mnist.train_images, mnist.train_labels, batch_size, shuffle=True
    )
    test_iter = make_iterator(mnist.test_images, mnist.test_labels, batch_size)
    return train_iter, test_iter
