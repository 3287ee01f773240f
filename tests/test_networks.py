"""Tests of helpers.networks: named layers, output shape and size of both networks."""

import numpy as np
import pytest

from helpers.compat import import_mxnet
from helpers.networks import NETWORKS, build, lenet, mlp

mx = import_mxnet()

MLP_LAYERS = ["flatten", "fc1", "relu1", "fc2", "relu2", "fc3", "softmax"]
LENET_LAYERS = [
    "conv1",
    "tanh1",
    "pool1",
    "conv2",
    "tanh2",
    "pool2",
    "flatten",
    "fc1",
    "tanh3",
    "fc2",
    "softmax",
]


def layers_of(symbol):
    """Names of the operator outputs inside symbol, input to output."""
    return [
        name[: -len("_output")]
        for name in symbol.get_internals().list_outputs()
        if name.endswith("_output")
    ]


def fully_connected(inputs, outputs):
    return inputs * outputs + outputs


def convolution(channels, filters, kernel):
    return channels * filters * kernel * kernel + filters


def lenet_parameter_count(side=28, kernel=5, pool=2):
    after_conv1 = side - kernel + 1  # 24
    after_pool1 = after_conv1 // pool  # 12
    after_conv2 = after_pool1 - kernel + 1  # 8
    after_pool2 = after_conv2 // pool  # 4
    return (
        convolution(1, 20, kernel)
        + convolution(20, 50, kernel)
        + fully_connected(50 * after_pool2 * after_pool2, 500)
        + fully_connected(500, 10)
    )


def parameter_count(symbol):
    """Number of weights and biases MXNet infers for one 28x28 image."""
    arg_shapes, _, _ = symbol.infer_shape(data=(1, 1, 28, 28))
    return sum(
        int(np.prod(shape))
        for name, shape in zip(symbol.list_arguments(), arg_shapes)
        if name not in ("data", "softmax_label")
    )


@pytest.mark.parametrize("make, layers", [(mlp, MLP_LAYERS), (lenet, LENET_LAYERS)])
def test_every_layer_is_named(make, layers):
    symbol = make()
    assert layers_of(symbol) == layers
    assert symbol.name == "softmax"
    assert symbol.list_outputs() == ["softmax_output"]


@pytest.mark.parametrize("make", [mlp, lenet])
def test_parameters_are_named_after_their_layers(make):
    symbol = make()
    layers = set(layers_of(symbol))
    for name in symbol.list_arguments():
        if name in ("data", "softmax_label"):
            continue
        layer, kind = name.rsplit("_", 1)
        assert layer in layers and kind in ("weight", "bias"), name
    assert symbol.list_auxiliary_states() == []


@pytest.mark.parametrize("make", [mlp, lenet])
@pytest.mark.parametrize("batch_size", [1, 7, 100])
def test_output_is_ten_scores_per_image(make, batch_size):
    _, output_shapes, _ = make().infer_shape(data=(batch_size, 1, 28, 28))
    assert output_shapes == [(batch_size, 10)]


def test_mlp_parameter_count():
    expected = (
        fully_connected(28 * 28, 128)
        + fully_connected(128, 64)
        + fully_connected(64, 10)
    )
    assert expected == 109_386
    assert parameter_count(mlp()) == expected


def test_lenet_parameter_count():
    expected = lenet_parameter_count()
    assert expected == 431_080
    assert parameter_count(lenet()) == expected


def test_lenet_shapes_follow_the_architecture():
    internals = lenet().get_internals()
    _, shapes, _ = internals.infer_shape(data=(2, 1, 28, 28))
    shape_of = dict(zip(internals.list_outputs(), shapes))
    assert shape_of["conv1_output"] == (2, 20, 24, 24)
    assert shape_of["pool1_output"] == (2, 20, 12, 12)
    assert shape_of["conv2_output"] == (2, 50, 8, 8)
    assert shape_of["pool2_output"] == (2, 50, 4, 4)
    assert shape_of["flatten_output"] == (2, 800)
    assert shape_of["fc1_output"] == (2, 500)


@pytest.mark.parametrize("name, make", [("mlp", mlp), ("lenet", lenet)])
def test_build_by_name(name, make):
    assert build(name).tojson() == make().tojson()


def test_networks_lists_both():
    assert sorted(NETWORKS) == ["lenet", "mlp"]


@pytest.mark.parametrize("name", ["x", "MLP", "", "resnet", None])
def test_build_refuses_unknown_names(name):
    with pytest.raises(ValueError, match=r"unknown network .*\['lenet', 'mlp'\]"):
        build(name)
