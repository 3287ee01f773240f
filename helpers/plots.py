"""Figures the notebooks show: digits, class counts, learning curves, galleries.

Each function returns a new figure, which a notebook shows as a cell's value.
The figures are not registered with pyplot, so they are shown once and never
pile up; nothing changes matplotlib's global settings.
"""

import numpy as np
from matplotlib.figure import Figure


def show_digits(images, titles=(), columns=10, size=1.2, cmap="gray"):
    """Draw images in a grid, each with an optional title above it."""
    count = len(images)
    rows = max(1, -(-count // columns))
    figure = Figure(figsize=(columns * size, rows * (size + 0.3)), layout="tight")
    axes = figure.subplots(rows, columns, squeeze=False)
    titles = list(titles) + [""] * (count - len(titles))
    for axis in axes.flat[count:]:
        axis.axis("off")
    for axis, image, title in zip(axes.flat, images, titles):
        axis.imshow(image, cmap=cmap)
        axis.set(xticks=[], yticks=[])  # keep the frame: white ink can touch it
        axis.set_title(str(title), fontsize=9)
    return figure


def plot_class_counts(train_labels, test_labels):
    """Draw how many training and test images there are of each digit."""
    digits = np.arange(10)
    figure = Figure(figsize=(7, 3), layout="tight")
    axis = figure.subplots()
    axis.bar(digits - 0.2, np.bincount(train_labels, minlength=10), 0.4, label="train")
    axis.bar(digits + 0.2, np.bincount(test_labels, minlength=10), 0.4, label="test")
    axis.set(xticks=digits, xlabel="digit", ylabel="images")
    axis.legend()
    return figure


def plot_learning_curves(histories):
    """Draw test accuracy and training loss per epoch for {name: History}."""
    figure = Figure(figsize=(10, 3.5), layout="tight")
    left, right = figure.subplots(1, 2)
    for name, history in histories.items():
        epochs = np.arange(1, history.num_epochs + 1)
        left.plot(epochs, history.train_accuracy, "--", label=f"{name} train")
        left.plot(epochs, history.test_accuracy, "o-", label=f"{name} test")
        right.plot(epochs, history.train_loss, "--", label=f"{name} train")
        right.plot(epochs, history.test_loss, "o-", label=f"{name} test")
    left.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    right.set(xlabel="epoch", ylabel="cross-entropy", title="Loss", yscale="log")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend()
    return figure


def plot_probabilities(probabilities, title=""):
    """Draw the ten class probabilities of one image as bars."""
    figure = Figure(figsize=(5, 2.2), layout="tight")
    axis = figure.subplots()
    axis.bar(np.arange(10), probabilities, color="tab:blue")
    axis.set(xticks=np.arange(10), ylim=(0, 1), xlabel="digit", ylabel="probability")
    axis.set_title(title)
    return figure


def show_mistakes(images, labels, probabilities, limit=20, columns=10):
    """Draw up to limit misclassified images: true, predicted and confidence."""
    images, labels = np.asarray(images), np.asarray(labels)
    probabilities = np.asarray(probabilities)
    if not len(images) == len(labels) == len(probabilities):
        raise ValueError(
            f"{len(images)} images, {len(labels)} labels and "
            f"{len(probabilities)} rows of probabilities: expected as many of each"
        )
    predictions = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)[:limit]
    titles = [
        f"{labels[i]}→{predictions[i]} ({probabilities[i, predictions[i]]:.0%})"
        for i in wrong
    ]
    return show_digits(images[wrong], titles, columns=columns)


BOX_STYLE = {"boxstyle": "round,pad=0.5", "edgecolor": "#345", "linewidth": 1}
INK = "#345"


def _box(axis, x, y, text, color="#e8f0fa"):
    """Write text centred at (x, y) inside a rounded box."""
    bbox = {**BOX_STYLE, "facecolor": color}
    axis.text(x, y, text, ha="center", va="center", fontsize=9, bbox=bbox)


def _link(axis, low, high, text):
    """A two-way arrow from point low up to point high, labelled on its side."""
    arrow = {"arrowstyle": "<|-|>", "color": INK, "lw": 1.2}
    axis.annotate("", xy=high, xytext=low, arrowprops=arrow)
    middle = ((low[0] + high[0]) / 2, (low[1] + high[1]) / 2)
    axis.text(
        *middle,
        text,
        ha="center",
        va="center",
        fontsize=8,
        color=INK,
        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
    )


def _feed(axis, start, end, style="-|>", dotted=False):
    """A thin arrow (or dotted line) from start to end."""
    line = {"arrowstyle": style, "color": "#888", "lw": 1, "ls": ":" if dotted else "-"}
    axis.annotate("", xy=end, xytext=start, arrowprops=line)


def _one_process(axis):
    """The left panel: a kvstore inside one process with two devices."""
    axis.set_title("local, device: one process, several devices", fontsize=10)
    _box(axis, 0.5, 0.85, "kvstore\nlocal: adds on the CPU\ndevice: adds on a GPU")
    for x, name in ((0.22, "cpu(0) or gpu(0)"), (0.78, "cpu(1) or gpu(1)")):
        _box(axis, x, 0.3, f"{name}\nhalf of each batch", "#fdf1dc")
        _feed(axis, (0.5 + (x - 0.5) * 0.3, 0.1), (x, 0.21))
        _link(
            axis, (x, 0.4), (0.5 + (x - 0.5) * 0.4, 0.72), "gradients up\nweights down"
        )
    _box(axis, 0.5, 0.05, "the module splits every batch between the devices", "white")


def _several_processes(axis):
    """The right panel: workers, a server and the scheduler."""
    axis.set_title("dist_sync, dist_async: several processes", fontsize=10)
    _box(axis, 0.42, 0.85, "server\nholds the weights,\nruns the optimizer")
    _box(axis, 0.9, 0.85, "scheduler\nintroduces\nthe others", "#eeeeee")
    _feed(axis, (0.81, 0.85), (0.56, 0.85), "-", dotted=True)
    _feed(axis, (0.9, 0.74), (0.74, 0.42), "-", dotted=True)
    for x, name in ((0.15, "worker 0"), (0.69, "worker 1")):
        _box(axis, x, 0.3, f"{name}\nits own shard\nof the data", "#fdf1dc")
        _link(
            axis,
            (x, 0.42),
            (0.42 + (x - 0.42) * 0.4, 0.72),
            "gradients up\nweights down",
        )
    _box(
        axis,
        0.45,
        0.05,
        "dist_sync adds every worker's gradients, then steps;\n"
        "dist_async steps on each worker's gradients as they come",
        "white",
    )


def kvstore_diagram():
    """Draw how gradients and weights travel through each kind of kvstore."""
    figure = Figure(figsize=(11, 4), layout="tight")
    for axis, draw in zip(figure.subplots(1, 2), (_one_process, _several_processes)):
        axis.set(xlim=(0, 1), ylim=(0, 1))
        axis.axis("off")
        draw(axis)
    return figure
