"""Tests of helpers.plots: new figures, outside pyplot, with the expected contents."""

import io

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers.plots import (
    plot_class_counts,
    plot_learning_curves,
    plot_probabilities,
    show_digits,
    show_mistakes,
)
from helpers.training import History


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    """Every test must leave pyplot without figures: the helpers bypass it."""
    plt.close("all")
    yield
    assert plt.get_fignums() == []


def rendered(figure):
    """Draw figure to PNG bytes, which lays it out and catches drawing errors."""
    assert isinstance(figure, Figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")
    return figure


def visible_axes(figure):
    return [axis for axis in figure.axes if axis.axison]


def history(accuracies):
    count = len(accuracies)
    return History(
        train_accuracy=list(accuracies),
        train_loss=[1.0 / (epoch + 1) for epoch in range(count)],
        test_accuracy=list(accuracies),
        test_loss=[2.0 / (epoch + 1) for epoch in range(count)],
        seconds=[1.0] * count,
        samples_per_second=[1000.0] * count,
    )


def test_show_digits_draws_a_grid_with_titles(mnist):
    figure = rendered(show_digits(mnist.test_images[:12], titles=range(12), columns=5))
    assert len(figure.axes) == 15
    shown = visible_axes(figure)
    assert len(shown) == 12
    assert [axis.get_title() for axis in shown] == [str(n) for n in range(12)]
    for axis, image in zip(shown, mnist.test_images[:12]):
        np.testing.assert_array_equal(axis.images[0].get_array(), image)
        assert axis.get_xticks().size == 0 and axis.get_yticks().size == 0


def test_show_digits_with_fewer_images_than_columns(mnist):
    figure = rendered(show_digits(mnist.test_images[:3], titles=["a"]))
    assert len(figure.axes) == 10
    assert [axis.get_title() for axis in visible_axes(figure)] == ["a", "", ""]


def test_show_digits_of_nothing_is_a_blank_row():
    figure = rendered(show_digits(np.zeros((0, 28, 28))))
    assert len(figure.axes) == 10 and visible_axes(figure) == []


def test_plot_class_counts(mnist):
    figure = rendered(plot_class_counts(mnist.train_labels, mnist.test_labels))
    (axis,) = figure.axes
    heights = [bar.get_height() for bar in axis.patches]
    assert heights[:10] == np.bincount(mnist.train_labels).tolist()
    assert heights[10:] == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert [text.get_text() for text in axis.get_legend().get_texts()] == [
        "train",
        "test",
    ]


def test_plot_class_counts_refuses_negative_labels():
    with pytest.raises(ValueError):
        plot_class_counts(np.array([-1, 2]), np.array([1, 2]))


def test_plot_learning_curves():
    figure = rendered(
        plot_learning_curves({"mlp": history([0.9, 0.95]), "lenet": history([0.97])})
    )
    left, right = figure.axes
    assert (left.get_title(), right.get_title()) == ("Accuracy", "Loss")
    assert right.get_yscale() == "log"
    assert [line.get_label() for line in left.lines] == [
        "mlp train",
        "mlp test",
        "lenet train",
        "lenet test",
    ]
    assert left.lines[1].get_xydata().tolist() == [[1, 0.9], [2, 0.95]]
    assert right.lines[3].get_xydata().tolist() == [[1, 2.0]]


def test_plot_probabilities():
    probabilities = np.full(10, 0.02)
    probabilities[3] = 0.82
    figure = rendered(plot_probabilities(probabilities, title="a three"))
    (axis,) = figure.axes
    assert axis.get_title() == "a three"
    assert [bar.get_height() for bar in axis.patches] == pytest.approx(probabilities)
    assert axis.get_ylim() == (0, 1)


def test_plot_probabilities_refuses_the_wrong_number_of_classes():
    with pytest.raises(ValueError):
        plot_probabilities(np.ones(9) / 9)


def test_show_mistakes_titles_true_then_predicted(mnist):
    images, labels = mnist.test_images[:6], mnist.test_labels[:6]
    probabilities = np.eye(10)[labels] * 0.9 + 0.01
    probabilities[1] = np.eye(10)[4] * 0.6 + 0.04  # a 2 taken for a 4
    probabilities[4] = np.eye(10)[9] * 0.7 + 0.03  # a 4 taken for a 9
    figure = rendered(show_mistakes(images, labels, probabilities))
    shown = visible_axes(figure)
    assert [axis.get_title() for axis in shown] == ["2→4 (64%)", "4→9 (73%)"]
    np.testing.assert_array_equal(shown[0].images[0].get_array(), images[1])
    np.testing.assert_array_equal(shown[1].images[0].get_array(), images[4])


def test_show_mistakes_honours_the_limit(mnist):
    labels = mnist.test_labels[:30]
    probabilities = np.eye(10)[(labels + 1) % 10]
    figure = rendered(
        show_mistakes(mnist.test_images[:30], labels, probabilities, limit=4)
    )
    assert len(visible_axes(figure)) == 4
    assert (
        visible_axes(figure)[0].get_title()
        == f"{labels[0]}→{(labels[0] + 1) % 10} (100%)"
    )


def test_show_mistakes_without_mistakes(mnist):
    labels = mnist.test_labels[:5]
    figure = rendered(show_mistakes(mnist.test_images[:5], labels, np.eye(10)[labels]))
    assert visible_axes(figure) == []


@pytest.mark.parametrize("counts", [(5, 4, 5), (5, 5, 4), (4, 5, 5)])
def test_show_mistakes_refuses_mismatched_lengths(mnist, counts):
    images, labels, rows = counts
    with pytest.raises(ValueError, match="expected as many of each"):
        show_mistakes(
            mnist.test_images[:images],
            mnist.test_labels[:labels],
            np.eye(10)[mnist.test_labels[:rows]],
        )


def test_figures_leave_global_settings_alone(mnist):
    before = dict(matplotlib.rcParams)
    show_digits(mnist.test_images[:2])
    plot_probabilities(np.full(10, 0.1))
    assert dict(matplotlib.rcParams) == before
