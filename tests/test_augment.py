"""Tests of helpers.augment: shifted digits keep their ink and their labels."""

import collections

import numpy as np
import pytest

from helpers.augment import ShiftingIter, shifted, training_iterator
from helpers.compat import import_mxnet
from helpers.training import Recipe

mx = import_mxnet()

MAX_SHIFT = 2


def margin(image):
    """The number of blank pixels between the digit and the nearest edge."""
    rows = np.flatnonzero(image.any(axis=1))
    columns = np.flatnonzero(image.any(axis=0))
    return min(rows[0], columns[0], 27 - rows[-1], 27 - columns[-1])


@pytest.fixture(scope="module")
def framed(mnist):
    """1000 training digits with room to move MAX_SHIFT pixels every way."""
    images, labels = mnist.train_images[:2000], mnist.train_labels[:2000]
    keep = np.flatnonzero([margin(image) >= MAX_SHIFT for image in images])[:1000]
    assert len(keep) == 1000
    return images[keep], labels[keep]


def move(image, down, right):
    """The image with its content moved, the vacated pixels left blank."""
    moved = np.zeros_like(image)
    height, width = image.shape
    moved[
        max(down, 0) : height + min(down, 0), max(right, 0) : width + min(right, 0)
    ] = image[
        max(-down, 0) : height + min(-down, 0), max(-right, 0) : width + min(-right, 0)
    ]
    return moved


def find_shift(result, original, max_shift):
    """The (down, right) move that turns original into result, or None."""
    for down in range(-max_shift, max_shift + 1):
        for right in range(-max_shift, max_shift + 1):
            if np.array_equal(move(original, down, right), result):
                return down, right
    return None


def pad(images, max_shift):
    edge = ((0, 0), (max_shift, max_shift), (max_shift, max_shift))
    return np.pad(images, edge)


def source_index(image, originals, index_of, max_shift):
    """The index of the original that image is a shifted copy of."""
    found = set()
    for down in range(-max_shift, max_shift + 1):
        for right in range(-max_shift, max_shift + 1):
            index = index_of.get(move(image, -down, -right).tobytes())
            if index is not None and np.array_equal(
                move(originals[index], down, right), image
            ):
                found.add(index)
    assert len(found) == 1, found
    return found.pop()


def epoch_of(iterator):
    """Every batch of one pass: uint8 images and int labels."""
    iterator.reset()
    images, labels = [], []
    for batch in iterator:
        data = batch.data[0].asnumpy()
        assert data.shape == (iterator.batch_size, 1, 28, 28)
        assert data.dtype == np.float32
        assert data.min() >= 0 and data.max() <= 1
        assert batch.pad == 0
        images.append(np.rint(data[:, 0] * 255).astype(np.uint8))
        labels.append(batch.label[0].asnumpy().astype(int))
    return np.concatenate(images), np.concatenate(labels)


def test_move_helper_moves_content():
    image = np.zeros((5, 5), dtype=np.uint8)
    image[2, 2] = 9
    assert move(image, 1, -2)[3, 0] == 9 and move(image, 1, -2).sum() == 9


def test_shifted_moves_digits_by_at_most_max_shift(framed):
    images = framed[0][:300]
    result = shifted(pad(images, MAX_SHIFT), MAX_SHIFT, np.random.default_rng(0))
    assert result.shape == images.shape and result.dtype == images.dtype
    moves = [
        find_shift(after, before, MAX_SHIFT) for after, before in zip(result, images)
    ]
    assert None not in moves
    downs, rights = zip(*moves)
    assert set(downs) == set(rights) == set(range(-MAX_SHIFT, MAX_SHIFT + 1))


def test_shifted_keeps_the_ink_of_framed_digits(framed):
    images = framed[0][:300]
    result = shifted(pad(images, MAX_SHIFT), MAX_SHIFT, np.random.default_rng(1))
    np.testing.assert_array_equal(
        result.sum(axis=(1, 2), dtype=np.int64), images.sum(axis=(1, 2), dtype=np.int64)
    )


def test_shifted_without_a_shift_is_the_identity(framed):
    images = framed[0][:20]
    np.testing.assert_array_equal(shifted(images, 0, np.random.default_rng(0)), images)


def test_shifted_follows_its_random_generator(framed):
    padded = pad(framed[0][:50], MAX_SHIFT)
    first = shifted(padded, MAX_SHIFT, np.random.default_rng(7))
    again = shifted(padded, MAX_SHIFT, np.random.default_rng(7))
    other = shifted(padded, MAX_SHIFT, np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_unshifted_batches_are_the_images_in_shuffled_order(framed):
    images, labels = framed
    iterator = ShiftingIter(images, labels, batch_size=100, max_shift=0, seed=0)
    assert iterator.provide_data[0].shape == (100, 1, 28, 28)
    assert iterator.provide_data[0].name == "data"
    assert iterator.provide_label[0].shape == (100,)
    assert iterator.provide_label[0].name == "softmax_label"
    seen, seen_labels = epoch_of(iterator)
    assert len(seen) == len(images)
    index_of = {image.tobytes(): index for index, image in enumerate(images)}
    order = [index_of[image.tobytes()] for image in seen]
    assert sorted(order) == list(range(len(images)))
    assert order != sorted(order)
    np.testing.assert_array_equal(seen_labels, labels[order])
    np.testing.assert_array_equal(seen, images[order])


def test_shifted_batches_keep_each_digits_label(framed):
    images, labels = framed
    iterator = ShiftingIter(images, labels, batch_size=100, max_shift=MAX_SHIFT)
    index_of = {image.tobytes(): index for index, image in enumerate(images)}
    seen, seen_labels = epoch_of(iterator)
    sources = [source_index(image, images, index_of, MAX_SHIFT) for image in seen]
    assert sorted(sources) == list(range(len(images)))
    np.testing.assert_array_equal(seen_labels, labels[sources])
    np.testing.assert_array_equal(
        seen.sum(axis=(1, 2), dtype=np.int64),
        images[sources].sum(axis=(1, 2), dtype=np.int64),
    )
    unmoved = sum(np.array_equal(image, images[s]) for image, s in zip(seen, sources))
    assert unmoved < len(images) / 10  # 1 in 25 expected


def test_every_image_appears_once_per_epoch_and_reset_reshuffles(framed):
    images, labels = framed
    iterator = ShiftingIter(images, labels, batch_size=200, max_shift=0, seed=3)
    first, first_labels = epoch_of(iterator)
    second, second_labels = epoch_of(iterator)
    assert collections.Counter(map(bytes, first)) == collections.Counter(
        map(bytes, images)
    )
    assert collections.Counter(map(bytes, second)) == collections.Counter(
        map(bytes, images)
    )
    assert sorted(first_labels) == sorted(second_labels) == sorted(labels)
    assert not np.array_equal(first, second)


def test_an_epoch_has_count_over_batch_size_batches(framed):
    images, labels = framed
    iterator = ShiftingIter(images, labels, batch_size=250, max_shift=1)
    assert iterator.num_data == 1000
    assert sum(1 for _ in iterator) == 4
    with pytest.raises(StopIteration):
        iterator.next()
    iterator.reset()
    assert iterator.next().data[0].shape == (250, 1, 28, 28)


def test_same_seed_same_batches(framed):
    images, labels = framed
    batches = [
        ShiftingIter(images, labels, 100, MAX_SHIFT, seed=seed).next()
        for seed in (5, 5, 6)
    ]
    first, again, other = [batch.data[0].asnumpy() for batch in batches]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("image_count, label_count", [(10, 9), (9, 10)])
def test_mismatched_lengths_are_refused(image_count, label_count):
    images = np.zeros((image_count, 28, 28), dtype=np.uint8)
    labels = np.zeros(label_count, dtype=np.uint8)
    with pytest.raises(ValueError, match=f"{image_count} images but {label_count}"):
        ShiftingIter(images, labels, batch_size=3)


@pytest.mark.parametrize("max_shift", [-1, -3])
def test_negative_shifts_are_refused(max_shift):
    images = np.zeros((10, 28, 28), dtype=np.uint8)
    with pytest.raises(
        ValueError, match=f"max_shift must be 0 or more, got {max_shift}"
    ):
        ShiftingIter(images, np.zeros(10), batch_size=5, max_shift=max_shift)


def test_training_iterator_shifts_only_when_the_recipe_asks(framed):
    images, labels = framed
    plain = training_iterator(images, labels, Recipe(batch_size=50, max_shift=0))
    assert not isinstance(plain, ShiftingIter)
    assert isinstance(plain, mx.io.DataIter)
    assert plain.provide_data[0].shape == (50, 1, 28, 28)
    seen, _ = epoch_of(plain)
    assert collections.Counter(map(bytes, seen)) == collections.Counter(
        map(bytes, images)
    )
    assert not np.array_equal(seen, images)  # shuffled

    moving = training_iterator(images, labels, Recipe(batch_size=50, max_shift=3))
    assert isinstance(moving, ShiftingIter)
    assert moving.max_shift == 3 and moving.batch_size == 50
    assert moving.provide_data[0].shape == (50, 1, 28, 28)
