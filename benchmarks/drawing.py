"""Print how well LeNet reads framed drawings, and the drawing pad's latency."""

import argparse
import time

import numpy as np

from helpers.classify import load_classifier
from helpers.data import load_mnist
from helpers.drawing import redraw_as_drawing, shrink_canvas, to_mnist
from helpers.drawing_pad import DrawingPad

LATENCY_GOAL_MS = 30.0


def accuracies(classifier, images, labels, seed=0):
    """Return accuracy on plain MNIST, framed drawings and naively shrunk ones."""
    rng = np.random.default_rng(seed)
    canvases = [redraw_as_drawing(image, rng=rng) for image in images]
    return {
        "MNIST as is": classifier.accuracy(images, labels),
        "drawn, framed by to_mnist": classifier.accuracy(
            np.stack([to_mnist(canvas) for canvas in canvases]), labels
        ),
        "drawn, shrunk whole (naive)": classifier.accuracy(
            np.stack([shrink_canvas(canvas) for canvas in canvases]), labels
        ),
    }


def random_stroke(rng, size=280, points=20):
    """Return a wandering stroke of (x, y) points inside a size x size pad."""
    start = rng.uniform(0.2 * size, 0.8 * size, size=2)
    steps = rng.normal(0, size / 30, size=(points, 2)).cumsum(axis=0)
    return [tuple(point) for point in np.clip(start + steps, 0, size - 1)]


def draw_without_ending(pad, stroke):
    """Send a stroke's mouse down and moves, but not its mouse up."""
    pad.on_mouse_down(*stroke[0])
    for point in stroke[1:]:
        pad.on_mouse_move(*point)


def time_ms(function, *args):
    """Return how long function(*args) took, in milliseconds."""
    start = time.perf_counter()
    function(*args)
    return (time.perf_counter() - start) * 1000


def pad_latencies(pad, count, seed=0):
    """Return per-stroke times (ms) of the stroke end and of its parts alone."""
    rng = np.random.default_rng(seed)
    times = {"stroke end to bars updated": [], "framing alone (reference)": []}
    times.update({f"{name} prediction alone": [] for name in pad.classifiers})
    for index in range(count):
        if index % 3 == 0:
            pad.clear()
        stroke = random_stroke(rng)
        draw_without_ending(pad, stroke)
        times["stroke end to bars updated"].append(
            time_ms(pad.on_mouse_up, *stroke[-1])
        )
        times["framing alone (reference)"].append(time_ms(pad.image))
        image = pad.image()
        for name, classifier in pad.classifiers.items():
            times[f"{name} prediction alone"].append(
                time_ms(classifier.predict_proba, image)
            )
    return times


def print_accuracies(results, count):
    print(f"LeNet accuracy on {count} MNIST test digits redrawn on a 280x280 canvas")
    for name, accuracy in results.items():
        print(f"  {name:<30} {accuracy:7.2%}")
    drop = results["MNIST as is"] - results["drawn, framed by to_mnist"]
    print(f"  framing costs {drop * 100:+.2f} points (test allows 1.5)")


def print_latencies(times):
    print(f"Drawing pad latency over {len(next(iter(times.values())))} strokes (ms)")
    print(f"  {'':<34} {'median':>7} {'p95':>7}")
    for name, values in times.items():
        median, p95 = np.percentile(values, [50, 95])
        print(f"  {name:<34} {median:7.2f} {p95:7.2f}")
    p95 = np.percentile(times["stroke end to bars updated"], 95)
    verdict = "met" if p95 <= LATENCY_GOAL_MS else "missed"
    print(f"  goal: p95 <= {LATENCY_GOAL_MS:.0f} ms, {verdict} ({p95:.1f} ms)")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--strokes", type=int, default=200)
    arguments = parser.parse_args()
    mnist = load_mnist()
    lenet = load_classifier("lenet")
    images = mnist.test_images[: arguments.images]
    labels = mnist.test_labels[: arguments.images]
    print_accuracies(accuracies(lenet, images, labels), len(images))
    pad = DrawingPad({"MLP": load_classifier("mlp"), "LeNet": lenet})
    print_latencies(pad_latencies(pad, arguments.strokes))
    print("(Python side only: no browser attached, widget messages go nowhere)")


if __name__ == "__main__":
    main()
