"""Tests of helpers.drawing_pad: strokes drawn through the pad's event handlers."""

import numpy as np
import pytest
from ipycanvas.canvas import COMMANDS

from helpers.drawing import EmptyDrawingError, redraw_as_drawing, to_mnist
from helpers.drawing_pad import NO_PREDICTION, DrawingPad, render_strokes

COMMAND_NAMES = {code: name for name, code in COMMANDS.items()}

# Digits as strokes of (x, y) points on a 280x280 pad.
ONE = [[(150, 40), (140, 140), (132, 240)]]
SEVEN = [[(70, 50), (210, 50)], [(210, 50), (160, 140), (120, 240)]]
ZERO = [
    [
        (140 + 60 * np.sin(angle), 140 - 95 * np.cos(angle))
        for angle in np.linspace(0, 2 * np.pi, 40)
    ]
]


class NearestMeanClassifier:
    """Scores a digit by its distance to each class's mean MNIST image."""

    def __init__(self, images, labels):
        pixels = images.reshape(len(images), -1) / 255.0
        self.means = np.stack([pixels[labels == digit].mean(0) for digit in range(10)])

    def predict_proba(self, images):
        pixels = np.asarray(images, dtype=float).reshape(-1, 28 * 28)
        distances = ((pixels[:, None, :] - self.means[None]) ** 2).sum(axis=2)
        scores = np.exp(-(distances - distances.min(axis=1, keepdims=True)) / 10)
        return scores / scores.sum(axis=1, keepdims=True)

    def predict(self, images):
        return self.predict_proba(images).argmax(axis=1)


@pytest.fixture(scope="module")
def nearest_mean(mnist):
    return NearestMeanClassifier(mnist.train_images, mnist.train_labels)


@pytest.fixture(scope="module")
def lenet():
    from helpers.classify import load_classifier

    return load_classifier("lenet")


@pytest.fixture
def pad(nearest_mean):
    return DrawingPad({"Mean": nearest_mean, "Other": nearest_mean})


def draw_with_mouse(pad, strokes):
    for stroke in strokes:
        pad.on_mouse_down(*stroke[0])
        for point in stroke[1:]:
            pad.on_mouse_move(*point)
        pad.on_mouse_up(*stroke[-1])


def send_from_browser(pad, event, **content):
    """Deliver a message as the browser's canvas sends it to the kernel."""
    pad.canvas._handle_custom_msg({"event": event, **content}, [])


def test_mouse_strokes_are_kept_in_the_pad(pad):
    draw_with_mouse(pad, SEVEN)
    assert pad.strokes == SEVEN
    assert not pad.drawing


def test_moving_without_pressing_draws_nothing(pad):
    pad.on_mouse_move(10, 10)
    pad.on_mouse_up(20, 20)
    assert pad.strokes == []


def test_a_finished_stroke_updates_every_prediction(pad):
    draw_with_mouse(pad, ONE)
    predictions = pad.predictions()
    assert set(predictions) == {"Mean", "Other"}
    for probabilities in predictions.values():
        assert probabilities.shape == (10,)
        assert probabilities.sum() == pytest.approx(1.0)
    digit = pad.predicted_digits()["Mean"]
    assert pad.labels["Mean"].value == str(digit)
    assert f"{predictions['Mean'][digit]:.2f}" in pad.bars["Mean"].value


def test_browser_messages_reach_the_handlers(pad):
    send_from_browser(pad, "mouse_down", x=100, y=50)
    send_from_browser(pad, "mouse_move", x=110, y=150)
    send_from_browser(pad, "mouse_out", x=115, y=290)
    send_from_browser(pad, "mouse_move", x=200, y=200)
    assert pad.strokes == [[(100, 50), (110, 150)]]
    assert pad.predictions()


def test_touch_draws_with_the_first_finger(pad):
    send_from_browser(
        pad, "touch_start", touches=[{"x": 100, "y": 40}, {"x": 9, "y": 9}]
    )
    send_from_browser(
        pad, "touch_move", touches=[{"x": 110, "y": 200}, {"x": 5, "y": 5}]
    )
    send_from_browser(pad, "touch_end", touches=[])
    assert pad.strokes == [[(100, 40), (110, 200)]]
    assert not pad.drawing and pad.predictions()


def test_undo_removes_the_last_stroke(pad):
    draw_with_mouse(pad, SEVEN)
    pad.buttons["undo"].click()
    assert pad.strokes == SEVEN[:1]
    np.testing.assert_array_equal(
        pad.image(), to_mnist(render_strokes(SEVEN[:1], 280, 20))
    )
    pad.undo()
    pad.undo()
    assert pad.strokes == [] and pad.predictions() == {}


def test_clear_empties_the_pad_and_resets_the_prediction(pad):
    draw_with_mouse(pad, ZERO)
    assert pad.labels["Mean"].value != NO_PREDICTION
    pad.buttons["clear"].click()
    assert pad.strokes == []
    assert pad.predictions() == {} and pad.predicted_digits() == {}
    assert pad.labels["Mean"].value == NO_PREDICTION
    with pytest.raises(EmptyDrawingError):
        pad.image()


def test_two_pads_are_independent(nearest_mean):
    first = DrawingPad({"Mean": nearest_mean})
    second = DrawingPad({"Mean": nearest_mean})
    draw_with_mouse(first, ONE)
    second.on_mouse_down(30, 30)
    assert first.strokes == ONE and first.predictions()
    assert second.strokes == [[(30, 30)]] and second.predictions() == {}
    second.clear()
    assert first.strokes == ONE


def test_image_is_the_framed_rasterised_strokes(pad):
    draw_with_mouse(pad, ZERO + ONE)
    ink = render_strokes(ZERO + ONE, 280, 20)
    np.testing.assert_array_equal(pad.ink(), ink)
    np.testing.assert_array_equal(pad.image(), to_mnist(ink))


def test_strokes_are_rasterised_with_a_round_brush():
    ink = render_strokes([[(50, 60)], [(100, 100), (200, 100)]], 280, 20)
    assert ink.shape == (280, 280) and ink.dtype == np.uint8
    assert ink[60, 50] == 255 and ink[60, 61] == 0
    assert ink[100, 150] == 255 and ink[100, 208] == 255 and ink[100, 212] == 0
    assert ink[109, 150] == 255 and ink[112, 150] == 0


def test_the_pad_has_a_fixed_size_and_findable_labels(pad):
    assert pad.canvas.layout.width == "280px" and pad.canvas.layout.height == "280px"
    assert "pad-prediction" in pad.labels["Other"]._dom_classes
    assert "pad-prediction-other" in pad.labels["Other"]._dom_classes


def test_a_connecting_browser_gets_background_and_strokes(pad, monkeypatch):
    draw_with_mouse(pad, SEVEN)
    sent = []

    def record(canvas, command, buffers=()):
        sent.append(command)

    monkeypatch.setattr(pad.canvas._canvas_manager, "send_command", record)
    send_from_browser(pad, "client_ready")
    names = [COMMAND_NAMES.get(command[0]) for command in sent]
    assert names.count("fillRect") == 1
    assert names.count("strokeLines") == len(SEVEN)


def test_lenet_recognises_digits_drawn_on_the_pad(lenet):
    pad = DrawingPad({"LeNet": lenet})
    for expected, strokes in [(1, ONE), (7, SEVEN), (0, ZERO)]:
        pad.clear()
        draw_with_mouse(pad, strokes)
        assert pad.predicted_digits() == {"LeNet": expected}
        assert pad.labels["LeNet"].value == str(expected)


def test_lenet_reads_synthetic_drawings_nearly_as_well_as_mnist(mnist, lenet):
    """Redrawn big, small and off centre, then framed, digits stay readable."""
    count = 1000
    images, labels = mnist.test_images[-count:], mnist.test_labels[-count:]
    rng = np.random.default_rng(0)
    framed = np.stack([to_mnist(redraw_as_drawing(i, rng=rng)) for i in images])
    plain_accuracy = lenet.accuracy(images, labels)
    drawn_accuracy = lenet.accuracy(framed, labels)
    assert drawn_accuracy >= plain_accuracy - 0.015, (
        f"LeNet reads {drawn_accuracy:.1%} of the redrawn digits "
        f"against {plain_accuracy:.1%} of the same MNIST images"
    )
