"""Tests of helpers.features: layer outputs and filters of the pretrained LeNet."""

import numpy as np
import pytest

from helpers.classify import checkpoint_files, load_classifier
from helpers.compat import import_mxnet
from helpers.features import conv_filters, layer_names, layer_output, normalise
from helpers.networks import lenet, mlp
from helpers.training import load_params
from tests.test_networks import LENET_LAYERS

mx = import_mxnet()


@pytest.fixture(scope="module")
def pretrained_lenet():
    """(symbol, arg_params, aux_params) of the committed LeNet checkpoint."""
    symbol_path, params_path = checkpoint_files("lenet")
    return (mx.sym.load(str(symbol_path)), *load_params(params_path))


def test_layer_names_run_from_input_to_output():
    assert layer_names(lenet()) == LENET_LAYERS
    assert layer_names(mlp()) == [
        "flatten",
        "fc1",
        "relu1",
        "fc2",
        "relu2",
        "fc3",
        "softmax",
    ]


def test_layer_names_of_the_pretrained_symbol(pretrained_lenet):
    assert layer_names(pretrained_lenet[0]) == LENET_LAYERS


@pytest.mark.parametrize(
    "layer, shape",
    [
        ("conv1", (20, 24, 24)),
        ("tanh1", (20, 24, 24)),
        ("pool1", (20, 12, 12)),
        ("pool2", (50, 4, 4)),
        ("flatten", (800,)),
        ("fc2", (10,)),
        ("softmax", (10,)),
    ],
)
def test_layer_output_shapes(pretrained_lenet, mnist, layer, shape):
    images = mnist.test_images[:3]
    output = layer_output(*pretrained_lenet, layer, images)
    assert output.shape == (3, *shape)
    assert output.dtype == np.float32 and np.isfinite(output).all()


def test_a_single_image_gives_a_batch_of_one(pretrained_lenet, mnist):
    output = layer_output(*pretrained_lenet, "conv1", mnist.test_images[0])
    assert output.shape == (1, 20, 24, 24)


def test_layer_outputs_follow_the_network(pretrained_lenet, mnist):
    images = mnist.test_images[:4]
    conv1 = layer_output(*pretrained_lenet, "conv1", images)
    tanh1 = layer_output(*pretrained_lenet, "tanh1", images)
    np.testing.assert_allclose(tanh1, np.tanh(conv1), atol=1e-5)
    assert np.abs(tanh1).max() <= 1
    pool1 = layer_output(*pretrained_lenet, "pool1", images)
    np.testing.assert_allclose(
        pool1, tanh1.reshape(4, 20, 12, 2, 12, 2).max(axis=(3, 5)), atol=1e-6
    )
    softmax = layer_output(*pretrained_lenet, "softmax", images)
    expected = load_classifier("lenet").predict_proba(images)
    np.testing.assert_allclose(softmax, expected, rtol=1e-5, atol=1e-6)


def test_conv1_output_is_the_convolution_of_the_image(pretrained_lenet, mnist):
    _, arg_params, _ = pretrained_lenet
    image = mnist.test_images[0].astype(np.float32) / 255
    output = layer_output(*pretrained_lenet, "conv1", mnist.test_images[0])[0]
    weights = arg_params["conv1_weight"].asnumpy()[:, 0]
    bias = arg_params["conv1_bias"].asnumpy()
    windows = np.lib.stride_tricks.sliding_window_view(image, (5, 5))
    expected = np.einsum("ijkl,fkl->fij", windows, weights) + bias[:, None, None]
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-4)


def test_unknown_layer_is_refused_with_the_list_of_layers(pretrained_lenet, mnist):
    with pytest.raises(ValueError, match=r"no layer 'conv3'; layers are \['conv1'"):
        layer_output(*pretrained_lenet, "conv3", mnist.test_images[:1])
    with pytest.raises(ValueError, match="'softmax'"):
        layer_output(*pretrained_lenet, "conv1_weight", mnist.test_images[:1])


def test_bad_images_are_refused(pretrained_lenet):
    with pytest.raises(ValueError, match=r"expected images of shape"):
        layer_output(*pretrained_lenet, "conv1", np.zeros((2, 1, 28, 28)))
    with pytest.raises(ValueError, match="0-1"):
        layer_output(*pretrained_lenet, "conv1", np.full((28, 28), 2.0))


def test_parameters_of_another_network_are_refused(pretrained_lenet, mnist):
    mlp_params, _ = load_params(checkpoint_files("mlp")[1])
    symbol, _, aux_params = pretrained_lenet
    with pytest.raises(KeyError, match="conv1_(weight|bias)"):
        layer_output(symbol, mlp_params, aux_params, "conv1", mnist.test_images[:1])


def test_conv_filters(pretrained_lenet):
    _, arg_params, _ = pretrained_lenet
    filters = conv_filters(arg_params)
    assert filters.shape == (20, 5, 5)
    np.testing.assert_array_equal(filters, arg_params["conv1_weight"].asnumpy()[:, 0])
    assert conv_filters(arg_params, "conv2").shape == (50 * 20, 5, 5)
    with pytest.raises(KeyError, match="conv3_weight"):
        conv_filters(arg_params, "conv3")


def test_normalise_maps_each_to_0_1():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(4, 6, 6)) * [[[1]], [[10]], [[0.01]], [[100]]] + 5
    scaled = normalise(maps)
    assert scaled.shape == maps.shape and scaled.dtype == np.float32
    np.testing.assert_allclose(scaled.min(axis=(1, 2)), 0, atol=1e-6)
    np.testing.assert_allclose(scaled.max(axis=(1, 2)), 1, atol=1e-6)
    for original, result in zip(maps, scaled):
        expected = (original - original.min()) / (original.max() - original.min())
        np.testing.assert_allclose(result, expected, atol=1e-4)


def test_normalise_keeps_constant_maps_finite():
    maps = np.stack([np.full((3, 3), 7.0), np.zeros((3, 3)), np.eye(3) * -2])
    scaled = normalise(maps)
    assert np.isfinite(scaled).all()
    np.testing.assert_array_equal(scaled[0], 0)
    np.testing.assert_array_equal(scaled[1], 0)
    np.testing.assert_array_equal(scaled[2], 1 - np.eye(3))


def test_normalise_works_on_deeper_stacks_and_single_maps():
    maps = np.arange(2 * 3 * 4 * 4, dtype=np.float64).reshape(2, 3, 4, 4)
    scaled = normalise(maps)
    assert scaled.shape == maps.shape
    np.testing.assert_allclose(
        scaled[1, 2], np.linspace(0, 1, 16).reshape(4, 4), atol=1e-6
    )
    assert normalise(np.array([[1, 3], [5, 9]])).tolist() == [[0, 0.25], [0.5, 1]]
