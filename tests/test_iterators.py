"""Tests of helpers.iterators: NCHW float batches in 0-1 with matching labels."""

import numpy as np
import pytest

from helpers.iterators import make_iterator, mnist_iterators, to_nchw


def test_to_nchw_scales_and_adds_a_channel():
    images = np.array([[[0, 51], [255, 102]]], dtype=np.uint8)
    converted = to_nchw(images)
    assert converted.shape == (1, 1, 2, 2)
    assert converted.dtype == np.float32
    np.testing.assert_allclose(converted[0, 0], [[0, 0.2], [1, 0.4]], rtol=1e-6)


@pytest.mark.parametrize("shape", [(28, 28), (2, 1, 28, 28), (5,)])
def test_to_nchw_refuses_other_shapes(shape):
    with pytest.raises(ValueError, match=r"\(N, height, width\)"):
        to_nchw(np.zeros(shape, dtype=np.uint8))


def test_batches_hold_the_images_and_their_labels(mnist):
    images, labels = mnist.test_images[:300], mnist.test_labels[:300]
    batches = list(make_iterator(images, labels))
    assert len(batches) == 3
    for index, batch in enumerate(batches):
        data, batch_labels = batch.data[0].asnumpy(), batch.label[0].asnumpy()
        assert data.shape == (100, 1, 28, 28) and data.dtype == np.float32
        assert data.min() >= 0 and data.max() <= 1
        chunk = slice(100 * index, 100 * (index + 1))
        np.testing.assert_allclose(data[:, 0] * 255, images[chunk], atol=1e-4)
        np.testing.assert_array_equal(batch_labels, labels[chunk])


def test_batch_size_is_honoured(mnist):
    iterator = make_iterator(mnist.test_images[:64], mnist.test_labels[:64], 32)
    assert iterator.provide_data[0].shape == (32, 1, 28, 28)
    assert iterator.provide_label[0].name == "softmax_label"


@pytest.mark.parametrize("image_count, label_count", [(10, 9), (9, 10)])
def test_mismatched_lengths_are_refused(image_count, label_count):
    images = np.zeros((image_count, 28, 28), dtype=np.uint8)
    labels = np.zeros(label_count, dtype=np.uint8)
    with pytest.raises(ValueError, match=f"{image_count} images but {label_count}"):
        make_iterator(images, labels)


def test_mnist_iterators_shuffle_training_but_keep_pairs(mnist):
    train_iter, test_iter = mnist_iterators(mnist)
    assert (train_iter.num_data, test_iter.num_data) == (60000, 10000)
    label_of = {
        image.tobytes(): label
        for image, label in zip(mnist.train_images, mnist.train_labels)
    }
    batch = train_iter.next()
    images = np.rint(batch.data[0].asnumpy()[:, 0] * 255).astype(np.uint8)
    labels = batch.label[0].asnumpy().astype(np.uint8)
    assert [label_of[image.tobytes()] for image in images] == labels.tolist()
    assert labels.tolist() != mnist.train_labels[:100].tolist()


def test_mnist_test_iterator_keeps_the_order(mnist):
    _, test_iter = mnist_iterators(mnist)
    batch = test_iter.next()
    assert batch.data[0].shape == (100, 1, 28, 28)
    np.testing.assert_array_equal(batch.label[0].asnumpy(), mnist.test_labels[:100])
