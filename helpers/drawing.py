"""Turn a drawing of any size into a 28x28 image framed the way MNIST frames digits."""

import numpy as np
from PIL import Image
from scipy import ndimage

MNIST_SIZE = 28
DIGIT_SIZE = 20
MNIST_CENTRE = 14.0
INK_THRESHOLD = 0.05
RGBA_CHANNELS = 4


class EmptyDrawingError(ValueError):
    """Raised when a drawing holds no ink to frame."""


def to_mnist(canvas):
    """Return the drawing as a (28, 28) float32 image in 0-1, framed like MNIST.

    canvas is white ink on black, of any size, either 2-D ink intensity or an
    RGBA image (H, W, 4) whose alpha channel is the ink, as ipycanvas's
    ``get_image_data`` returns a canvas drawn on a transparent background.
    Values are uint8 in 0-255 or float in 0-1.

    As in MNIST, the ink's bounding box is scaled, aspect kept, so that its
    longer side is 20 pixels, anti-aliased by area averaging, and placed in
    the 28x28 frame with its centre of mass at the centre (14, 14). The
    intensities are stretched so that the strongest pixel is full ink.
    Raises EmptyDrawingError when no pixel holds ink above 5%.
    """
    ink = ink_intensity(canvas)
    digit = scale_to_box(ink[ink_bounding_box(ink)], DIGIT_SIZE)
    return place_by_centre_of_mass(digit / digit.max(), MNIST_SIZE)


def shrink_canvas(canvas):
    """Return the whole canvas resized to 28x28, the classic tutorial's naive step.

    Accepts the same input as ``to_mnist``; the digit keeps its position and
    its share of the canvas, and a blank canvas gives a blank image.
    """
    ink = ink_intensity(canvas)
    return resize(ink, (MNIST_SIZE, MNIST_SIZE))


def ink_intensity(canvas):
    """Return the ink of a 2-D or RGBA canvas as a float32 array in 0-1."""
    array = np.asarray(canvas)
    check_numeric(array)
    if array.ndim == 3:
        array = alpha_channel(array)
    elif array.ndim != 2:
        raise ValueError(
            "Expected a 2-D ink image (H, W) or an RGBA image (H, W, 4), "
            f"got an array of shape {array.shape}."
        )
    if array.size == 0:
        raise ValueError(f"Expected a non-empty canvas, got shape {array.shape}.")
    return scaled_to_unit(array)


def check_numeric(array):
    """Raise TypeError unless the array holds real numbers."""
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(
            "Expected uint8 (0-255) or float (0-1) pixel values, "
            f"got an array of dtype {array.dtype}."
        )


def alpha_channel(image):
    """Return the alpha channel of an RGBA image, where the ink is."""
    if image.shape[2] != RGBA_CHANNELS:
        raise ValueError(
            "Expected an RGBA image (H, W, 4) with the ink in its alpha channel, "
            f"got shape {image.shape}; pass one channel of an RGB image as 2-D ink."
        )
    alpha = image[:, :, 3]
    if alpha.size and np.all(alpha == alpha.flat[0]) and alpha.flat[0] > 0:
        raise ValueError(
            "Expected the ink in the alpha channel, but the RGBA image has the "
            "same opacity everywhere; for ink drawn over a filled background, "
            "pass one colour channel instead, e.g. image[:, :, 0]."
        )
    return alpha


def scaled_to_unit(array):
    """Return uint8-like 0-255 or float 0-1 values as float32 in 0-1."""
    if np.issubdtype(array.dtype, np.floating):
        check_range(array, 1.0, "float pixels in 0-1 (divide 0-255 values by 255)")
        return array.astype(np.float32)
    check_range(array, 255, "integer pixels in 0-255")
    return array.astype(np.float32) / 255.0


def check_range(array, maximum, expected):
    """Raise ValueError unless every value is finite and within 0..maximum."""
    if not np.all(np.isfinite(array)):
        raise ValueError(f"Expected {expected}, got NaN or infinite values.")
    low, high = array.min(), array.max()
    if low < 0 or high > maximum:
        raise ValueError(f"Expected {expected}, got values from {low} to {high}.")


def ink_bounding_box(ink, threshold=INK_THRESHOLD):
    """Return the slices of the smallest box holding every pixel above threshold."""
    rows = np.flatnonzero(ink.max(axis=1) > threshold)
    columns = np.flatnonzero(ink.max(axis=0) > threshold)
    if rows.size == 0:
        raise EmptyDrawingError(
            f"The drawing is blank: no pixel holds more than {threshold:.0%} ink "
            f"(strongest {ink.max():.1%}). Draw a digit first, in white on black."
        )
    return slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1)


def scale_to_box(image, box_size):
    """Return image resized, aspect kept, so that its longer side is box_size."""
    height, width = image.shape
    scale = box_size / max(height, width)
    new_shape = (max(1, round(height * scale)), max(1, round(width * scale)))
    return resize(image, new_shape)


def resize(image, shape):
    """Return a float image resized to shape (rows, columns), anti-aliased."""
    shrinking = shape[0] <= image.shape[0] and shape[1] <= image.shape[1]
    # BOX averages the area each new pixel covers; BILINEAR enlarges smoothly.
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    resized = Image.fromarray(image.astype(np.float32)).resize(shape[::-1], method)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def place_by_centre_of_mass(digit, frame_size):
    """Return a frame_size square holding digit with its centre of mass centred."""
    centre = frame_size / 2
    mass_row, mass_column = ndimage.center_of_mass(digit)
    top = clamp(round(centre - mass_row), 0, frame_size - digit.shape[0])
    left = clamp(round(centre - mass_column), 0, frame_size - digit.shape[1])
    frame = np.zeros((frame_size, frame_size), dtype=np.float32)
    frame[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return frame


def clamp(value, low, high):
    """Return value limited to the range low..high."""
    return max(low, min(high, value))


def redraw_as_drawing(image, canvas_size=280, rng=None, size_range=(0.3, 0.9)):
    """Return an MNIST image redrawn as a solid brush drawing on a big canvas.

    The strokes are binarised and thickened like a round brush, the digit is
    enlarged so that its longer side is a random share of the canvas (drawn
    from size_range) and put at a random place, usually off centre. Returns a
    (canvas_size, canvas_size) uint8 canvas, white ink on black. rng is a
    numpy Generator or a seed; the same rng state gives the same drawing.
    """
    check_size_range(size_range)
    rng = np.random.default_rng(rng)
    ink = ink_intensity(image)
    digit = ink[ink_bounding_box(ink, threshold=0.5)]
    extent = max(1, round(rng.uniform(*size_range) * canvas_size))
    brush_radius = rng.uniform(0.0, 0.04) * extent
    stroke_extent = max(1, extent - 2 * int(np.ceil(brush_radius)))
    strokes = thicken(scale_to_box(digit, stroke_extent) > 0.5, brush_radius)
    return place_at_random(strokes, canvas_size, rng)


def check_size_range(size_range):
    """Raise ValueError unless size_range is (low, high) with 0 < low <= high <= 1."""
    low, high = size_range
    if not 0 < low <= high <= 1:
        raise ValueError(
            "Expected size_range as (low, high) shares of the canvas with "
            f"0 < low <= high <= 1, got {size_range}."
        )


def thicken(strokes, radius):
    """Return boolean strokes widened by a round brush of the given radius."""
    padded = np.pad(strokes, int(np.ceil(radius)))
    return ndimage.distance_transform_edt(~padded) <= radius


def place_at_random(strokes, canvas_size, rng):
    """Return a uint8 canvas with the strokes at a random place, fully inside."""
    strokes = strokes[ink_bounding_box(strokes.astype(np.float32))]
    height, width = strokes.shape
    top = rng.integers(0, canvas_size - height + 1)
    left = rng.integers(0, canvas_size - width + 1)
    canvas = np.zeros((canvas_size, canvas_size), dtype=np.uint8)
    canvas[top : top + height, left : left + width] = strokes * np.uint8(255)
    return canvas
