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


class FastNDArrayIter(mx.io.NDArrayIter):
    """An NDArrayIter that shuffles faster and hands out batches as views.

    The stock NDArrayIter reshuffles by copying the whole dataset out of
    MXNet, gathering it with numpy and copying it back (three full copies per
    epoch), and copies every batch out with an operator. Here the gather is
    done on a numpy copy kept aside, and MXNet reads the result in place, with
    the same permutation, so batches come in the same order; a batch is a view
    on that array, copied only once, by the module, into its input.
    """

    def _shuffle_data(self):
        sources = self.data + self.label
        if not all(_is_dense(array) for _, array in sources):
            super()._shuffle_data()  # sparse or h5py sources: the stock path
            return
        np.random.shuffle(self.idx)
        if getattr(self, "_host_arrays", None) is None:
            self._host_arrays = [array.asnumpy() for _, array in sources]
        # Gather from the previous order, as the stock iterator does.
        self._host_arrays = [values[self.idx] for values in self._host_arrays]
        shuffled = [
            (name, mx.nd.from_numpy(values, zero_copy=True))
            for (name, _), values in zip(sources, self._host_arrays)
        ]
        self.data, self.label = shuffled[: len(self.data)], shuffled[len(self.data) :]

    def _getdata(self, data_source, start=None, end=None):
        if self.layout.find("N") != 0 or not all(
            _is_dense(array) for _, array in data_source
        ):
            return super()._getdata(data_source, start, end)
        start = 0 if start is None else start
        return [array[start:end] for _, array in data_source]


def _is_dense(array):
    return isinstance(array, mx.nd.NDArray) and array.stype == "default"


def make_iterator(images, labels, batch_size=BATCH_SIZE, shuffle=False):
    """Return an NDArrayIter over images and labels, named as the networks expect."""
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return FastNDArrayIter(
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
