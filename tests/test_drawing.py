"""Tests of helpers.drawing: MNIST framing, the naive shrink, synthetic drawings."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from helpers.drawing import (
    EmptyDrawingError,
    redraw_as_drawing,
    shrink_canvas,
    to_mnist,
)


def ink_box_side(image, threshold=0.0):
    """Return the longer side of the box holding every pixel above threshold."""
    rows = np.flatnonzero(image.max(axis=1) > threshold)
    columns = np.flatnonzero(image.max(axis=0) > threshold)
    return max(rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1)


def correlation(first, second):
    return np.corrcoef(np.ravel(first), np.ravel(second))[0, 1]


def assert_mnist_like(image):
    assert image.shape == (28, 28)
    assert image.dtype == np.float32
    assert np.all(np.isfinite(image))
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert image.max() == pytest.approx(1.0)


@st.composite
def blob_canvases(draw):
    """A canvas of any size holding one ellipse or rectangle of ink, anywhere."""
    height = draw(st.integers(8, 300))
    width = draw(st.integers(8, 300))
    blob_height = draw(st.integers(1, height))
    blob_width = draw(st.integers(1, width))
    top = draw(st.integers(0, height - blob_height))
    left = draw(st.integers(0, width - blob_width))
    rows, columns = np.ogrid[:blob_height, :blob_width]
    if draw(st.booleans()):
        radius_y, radius_x = blob_height / 2, blob_width / 2
        distance = ((rows + 0.5 - radius_y) / radius_y) ** 2 + (
            (columns + 0.5 - radius_x) / radius_x
        ) ** 2
        blob = distance <= 1.0
    else:
        blob = np.ones((blob_height, blob_width), dtype=bool)
    canvas = np.zeros((height, width), dtype=np.float32)
    canvas[top : top + blob_height, left : left + blob_width] = blob * draw(
        st.floats(0.2, 1.0)
    )
    if draw(st.booleans()):
        return np.round(canvas * 255).astype(np.uint8)
    return canvas


@settings(max_examples=80, deadline=None)
@given(blob_canvases())
def test_any_blob_is_framed_like_mnist(canvas):
    image = to_mnist(canvas)
    assert_mnist_like(image)
    assert abs(ink_box_side(image) - 20) <= 1
    centre = np.array(ndimage.center_of_mass(image))
    assert np.all(np.abs(centre - 14.0) <= 1.0), centre


def test_mnist_frames_its_digits_the_same_way(mnist):
    """The test set itself: longer side 20, centre of mass near (14, 14)."""
    images = mnist.test_images[:200] / 255.0
    assert {ink_box_side(image) for image in images} == {20}
    centres = np.array([ndimage.center_of_mass(image) for image in images])
    assert np.all(np.abs(centres - 14.0) <= 1.0)


@pytest.mark.parametrize("enlargement", [1, 3, 10])
def test_an_mnist_digit_on_a_big_canvas_is_framed_back(mnist, enlargement):
    rng = np.random.default_rng(enlargement)
    for digit in mnist.test_images[:20]:
        enlarged = np.kron(digit, np.ones((enlargement, enlargement), np.uint8))
        before, after = rng.integers(0, 150, size=(2, 2))
        canvas = np.pad(enlarged, ((before[0], after[0]), (before[1], after[1])))
        image = to_mnist(canvas)
        assert correlation(image, digit) > 0.98


def test_blank_canvas_raises_a_helpful_error():
    with pytest.raises(EmptyDrawingError, match="blank"):
        to_mnist(np.zeros((280, 280), dtype=np.uint8))


def test_faint_noise_counts_as_blank():
    noise = np.random.default_rng(0).uniform(0, 0.04, size=(100, 120))
    with pytest.raises(ValueError, match="Draw a digit"):
        to_mnist(noise)


def test_single_dot_gives_a_centred_blob():
    canvas = np.zeros((280, 280), dtype=np.uint8)
    canvas[3, 270] = 255
    image = to_mnist(canvas)
    assert_mnist_like(image)
    centre = np.array(ndimage.center_of_mass(image))
    assert np.all(np.abs(centre - 14.0) <= 1.0)


@pytest.mark.parametrize("direction", ["horizontal", "vertical", "diagonal"])
def test_thin_line_stays_a_line(direction):
    canvas = np.zeros((280, 280), dtype=np.float32)
    if direction == "horizontal":
        canvas[100, 30:250] = 1.0
    elif direction == "vertical":
        canvas[30:250, 100] = 1.0
    else:
        canvas[np.arange(40, 240), np.arange(40, 240)] = 1.0
    image = to_mnist(canvas)
    assert_mnist_like(image)
    assert ink_box_side(image, threshold=0.1) == 20
    assert np.count_nonzero(image > 0.1) <= 45


def test_rgba_alpha_is_the_ink():
    rng = np.random.default_rng(3)
    ink = np.zeros((200, 150), dtype=np.uint8)
    ink[40:160, 60:80] = 255
    ink[40:60, 30:120] = 180
    rgba = rng.integers(0, 256, size=(200, 150, 4), dtype=np.uint8)
    rgba[:, :, 3] = ink
    np.testing.assert_array_equal(to_mnist(rgba), to_mnist(ink))
    np.testing.assert_array_equal(to_mnist(rgba / 255.0), to_mnist(ink / 255.0))


def test_uint8_and_float_inputs_agree():
    ink = np.zeros((90, 90), dtype=np.uint8)
    ink[20:70, 40:50] = 255
    np.testing.assert_allclose(to_mnist(ink), to_mnist(ink / 255.0), atol=1e-6)


@pytest.mark.parametrize(
    "canvas, error, message",
    [
        (np.zeros(50), ValueError, "shape \\(50,\\)"),
        (np.zeros((2, 30, 30, 4)), ValueError, "2-D ink image"),
        (np.zeros((30, 30, 3), np.uint8), ValueError, "RGBA image \\(H, W, 4\\)"),
        (np.full((30, 30, 4), 255, np.uint8), ValueError, "same opacity"),
        (np.zeros((0, 30)), ValueError, "non-empty"),
        (np.full((30, 30), np.nan), ValueError, "NaN"),
        (np.full((30, 30), -0.5), ValueError, "from -0.5"),
        (np.full((30, 30), 2.0), ValueError, "0-1 \\(divide"),
        (np.full((30, 30), 300, np.int64), ValueError, "0-255, got values"),
        (np.full((30, 30), -1, np.int16), ValueError, "0-255"),
        (np.full((30, 30), "ink"), TypeError, "dtype <U3"),
        (np.ones((30, 30), dtype=bool), TypeError, "dtype bool"),
        (np.ones((30, 30), dtype=complex), TypeError, "uint8 \\(0-255\\)"),
    ],
)
def test_bad_input_says_what_was_expected(canvas, error, message):
    with pytest.raises(error, match=message):
        to_mnist(canvas)


def test_shrink_canvas_resizes_the_whole_canvas(mnist):
    digit = mnist.test_images[0]
    enlarged = np.kron(digit, np.ones((10, 10), np.uint8))
    image = shrink_canvas(enlarged)
    assert image.shape == (28, 28) and image.dtype == np.float32
    np.testing.assert_allclose(image, digit / 255.0, atol=1e-5)


def test_shrink_canvas_keeps_a_small_digit_small():
    canvas = np.zeros((280, 280), dtype=np.uint8)
    canvas[10:60, 200:210] = 255
    image = shrink_canvas(canvas)
    assert ink_box_side(image, threshold=0.1) <= 6
    assert not shrink_canvas(np.zeros((280, 280))).any()


def test_redraw_as_drawing_gives_solid_ink_on_a_big_canvas(mnist):
    canvas = redraw_as_drawing(mnist.test_images[0], rng=np.random.default_rng(0))
    assert canvas.shape == (280, 280) and canvas.dtype == np.uint8
    assert set(np.unique(canvas)) == {0, 255}
    assert correlation(to_mnist(canvas), mnist.test_images[0]) > 0.8


def test_redraw_as_drawing_is_deterministic_given_a_seed(mnist):
    digit = mnist.test_images[1]
    first = redraw_as_drawing(digit, canvas_size=200, rng=np.random.default_rng(5))
    again = redraw_as_drawing(digit, canvas_size=200, rng=np.random.default_rng(5))
    other = redraw_as_drawing(digit, canvas_size=200, rng=np.random.default_rng(6))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_redraw_as_drawing_varies_size_and_place(mnist):
    rng = np.random.default_rng(1)
    canvases = [redraw_as_drawing(mnist.test_images[2], rng=rng) for _ in range(30)]
    sides = [ink_box_side(canvas) for canvas in canvases]
    centres = np.array([ndimage.center_of_mass(canvas) for canvas in canvases])
    assert min(sides) < 120 and max(sides) > 180
    assert np.ptp(centres, axis=0).min() > 80
    assert all(side <= 0.9 * 280 for side in sides)


def test_redraw_as_drawing_checks_its_size_range(mnist):
    with pytest.raises(ValueError, match="0 < low <= high <= 1"):
        redraw_as_drawing(mnist.test_images[0], size_range=(0.5, 1.5))
