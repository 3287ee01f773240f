"""The two networks of the workbook as MXNet symbols, every layer named."""

from helpers.compat import import_mxnet

mx = import_mxnet()


def mlp():
    """Multilayer perceptron 784-128-64-10 with ReLU and a softmax output."""
    data = mx.sym.flatten(mx.sym.var("data"), name="flatten")
    fc1 = mx.sym.FullyConnected(data, num_hidden=128, name="fc1")
    relu1 = mx.sym.Activation(fc1, act_type="relu", name="relu1")
    fc2 = mx.sym.FullyConnected(relu1, num_hidden=64, name="fc2")
    relu2 = mx.sym.Activation(fc2, act_type="relu", name="relu2")
    fc3 = mx.sym.FullyConnected(relu2, num_hidden=10, name="fc3")
    return mx.sym.SoftmaxOutput(fc3, name="softmax")


def lenet():
    """LeNet: two 5x5 tanh convolutions with max-pooling, fc 500 tanh, fc 10."""
    data = mx.sym.var("data")
    conv1 = mx.sym.Convolution(data, kernel=(5, 5), num_filter=20, name="conv1")
    tanh1 = mx.sym.Activation(conv1, act_type="tanh", name="tanh1")
    pool1 = mx.sym.Pooling(
        tanh1, pool_type="max", kernel=(2, 2), stride=(2, 2), name="pool1"
    )
    conv2 = mx.sym.Convolution(pool1, kernel=(5, 5), num_filter=50, name="conv2")
    tanh2 = mx.sym.Activation(conv2, act_type="tanh", name="tanh2")
    pool2 = mx.sym.Pooling(
        tanh2, pool_type="max", kernel=(2, 2), stride=(2, 2), name="pool2"
    )
    flatten = mx.sym.flatten(pool2, name="flatten")
    fc1 = mx.sym.FullyConnected(flatten, num_hidden=500, name="fc1")
    tanh3 = mx.sym.Activation(fc1, act_type="tanh", name="tanh3")
    fc2 = mx.sym.FullyConnected(tanh3, num_hidden=10, name="fc2")
    return mx.sym.SoftmaxOutput(fc2, name="softmax")


NETWORKS = {"mlp": mlp, "lenet": lenet}


def build(name):
    """Return the symbol of the network called name ("mlp" or "lenet")."""
    try:
        return NETWORKS[name]()
    except KeyError:
        raise ValueError(
            f"unknown network {name!r}: expected one of {sorted(NETWORKS)}"
        ) from None
