"""Look inside a trained network: the output of any named layer for some images."""

import numpy as np

from helpers.classify import as_image_batch
from helpers.compat import import_mxnet

mx = import_mxnet()


def layer_names(symbol):
    """Return the names of the layer outputs inside symbol, input to output."""
    return [
        name[: -len("_output")]
        for name in symbol.get_internals().list_outputs()
        if name.endswith("_output")
    ]


def layer_output(symbol, arg_params, aux_params, layer, images):
    """Return the output of the layer named layer for images, as numpy."""
    internals = symbol.get_internals()
    if f"{layer}_output" not in internals.list_outputs():
        raise ValueError(f"no layer {layer!r}; layers are {layer_names(symbol)}")
    output = internals[f"{layer}_output"]
    batch = as_image_batch(images)
    shapes = dict(zip(output.list_arguments(), output.infer_shape(data=batch.shape)[0]))
    # a label is unused when predicting, but binding the softmax layer needs one
    args = {
        name: mx.nd.zeros(shapes[name]) if name.endswith("_label") else arg_params[name]
        for name in set(shapes) - {"data"}
    }
    executor = output.bind(
        mx.cpu(),
        args={"data": mx.nd.array(batch), **args},
        aux_states={k: aux_params[k] for k in output.list_auxiliary_states()},
    )
    return executor.forward(is_train=False)[0].asnumpy()


def conv_filters(arg_params, layer="conv1"):
    """Return the weights of a convolution layer as (filters, height, width)."""
    weights = arg_params[f"{layer}_weight"].asnumpy()
    return weights.reshape(-1, *weights.shape[-2:])


def normalise(maps):
    """Scale each map to 0-1 independently, for display."""
    maps = np.asarray(maps, dtype=np.float32)
    low = maps.min(axis=(-2, -1), keepdims=True)
    high = maps.max(axis=(-2, -1), keepdims=True)
    return (maps - low) / np.maximum(high - low, 1e-12)
