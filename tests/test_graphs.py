"""Tests of helpers.graphs: a drawn graph with dot, a text summary without it."""

import shutil

import pytest

from helpers.compat import import_mxnet
from helpers.graphs import MISSING_DOT_NOTE, draw_network, have_dot

mx = import_mxnet()

LAYER_NAMES = ["fc1", "relu1", "fc2", "softmax"]
INPUT_SHAPE = {"data": (1, 784)}
PARAMETER_COUNT = (784 * 16 + 16) + (16 * 10 + 10)


@pytest.fixture
def tiny_network():
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=16, name="fc1")
    net = mx.sym.Activation(net, act_type="relu", name="relu1")
    net = mx.sym.FullyConnected(net, num_hidden=10, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


@pytest.fixture
def without_dot(monkeypatch, tmp_path):
    """A PATH on which no program, and so no ``dot``, can be found."""
    monkeypatch.setenv("PATH", str(tmp_path))


def test_have_dot_follows_the_path(without_dot):
    assert not have_dot()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")
def test_draw_network_returns_an_svg_graph(tiny_network, capsys):
    assert have_dot()
    graph = draw_network(tiny_network, INPUT_SHAPE, title="tiny")
    svg = graph.pipe(format="svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "Title: tiny" in svg
    for name in LAYER_NAMES:
        assert f">{name}" in svg, name
    assert capsys.readouterr().out == ""


def test_draw_network_without_dot_prints_a_summary(tiny_network, without_dot, capsys):
    assert draw_network(tiny_network, INPUT_SHAPE) is None
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == MISSING_DOT_NOTE
    summary = "\n".join(lines[1:])
    for name in LAYER_NAMES:
        assert name in summary, name
    assert f"Total params: {PARAMETER_COUNT}" in summary


def test_missing_dot_note_names_the_fix():
    assert "\n" not in MISSING_DOT_NOTE
    assert "apt-get install graphviz" in MISSING_DOT_NOTE
