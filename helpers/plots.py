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
