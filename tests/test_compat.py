"""Tests of helpers.compat: MXNet imports cleanly, here and in child processes."""

import json
import os
import subprocess
import sys

import numpy
import pytest

from helpers import compat
from helpers.compat import UnsupportedPythonError, check_python
from helpers.environment import STARTUP_HOOK_LINE, startup_hook_path

BANNER = "Subgraph backend MKLDNN is activated"

CHILD_BINDS_A_SYMBOL = """
import json, os, sys
import numpy
hooked = any(type(hook).__name__ == "_PatchBeforeMxnet" for hook in sys.meta_path)
import mxnet as mx
data = mx.sym.Variable("data")
net = mx.sym.FullyConnected(data, num_hidden=4, name="fc1")
net = mx.sym.Activation(net, act_type="relu", name="relu1")
executor = net.simple_bind(mx.cpu(), data=(2, 3))
executor.forward(is_train=False, data=mx.nd.ones((2, 3)))
print(json.dumps({
    "hooked before import": hooked,
    "hooked after import": any(
        type(hook).__name__ == "_PatchBeforeMxnet" for hook in sys.meta_path
    ),
    "numpy.bool": numpy.__dict__.get("bool") is bool,
    "verbosity": os.environ.get("MXNET_SUBGRAPH_VERBOSE"),
    "output shape": executor.outputs[0].shape,
}))
"""


def run_child(**environment):
    """Bind a tiny symbol in a fresh interpreter; return (facts, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "MXNET_SUBGRAPH_VERBOSE"}
    env.update(environment)
    result = subprocess.run(
        [sys.executable, "-c", CHILD_BINDS_A_SYMBOL],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1]), result.stderr


def test_environment_runs_install_at_start_up():
    path = startup_hook_path()
    assert path.is_file(), f"{path} is missing: run `make setup`"
    assert path.read_text() == STARTUP_HOOK_LINE
    assert "helpers.compat.install()" in STARTUP_HOOK_LINE


def test_child_process_imports_mxnet_cleanly():
    facts, stderr = run_child()
    assert BANNER not in stderr
    assert facts == {
        "hooked before import": True,
        "hooked after import": False,
        "numpy.bool": True,
        "verbosity": "0",
        "output shape": [2, 4],
    }


def test_child_process_keeps_a_verbosity_asked_for():
    facts, stderr = run_child(MXNET_SUBGRAPH_VERBOSE="1")
    assert facts["verbosity"] == "1"
    assert BANNER in stderr


@pytest.mark.parametrize("version", [(3, 13, 0), (3, 9, 18), (2, 7, 18)])
def test_check_python_refuses_unsupported_versions(version):
    found = ".".join(map(str, version))
    with pytest.raises(
        UnsupportedPythonError, match=f"Python {found} is not"
    ) as raised:
        check_python(version)
    assert "PYTHON=python3.11" in str(raised.value)


@pytest.mark.parametrize("version", [(3, 10, 0), (3, 11, 9), (3, 12, 4)])
def test_check_python_accepts_supported_versions(version):
    check_python(version)


def test_check_python_accepts_this_interpreter():
    check_python()
    check_python(sys.version_info)


@pytest.fixture
def numpy_without_bool(monkeypatch):
    """numpy as recent releases ship it: no ``numpy.bool`` in its namespace."""
    monkeypatch.setitem(vars(numpy), "bool", None)
    monkeypatch.delitem(vars(numpy), "bool")
    return numpy


def test_restore_numpy_aliases_gives_numpy_bool(numpy_without_bool):
    compat.restore_numpy_aliases()
    assert vars(numpy_without_bool)["bool"] is bool


def test_hook_restores_the_alias_only_for_mxnet(numpy_without_bool, monkeypatch):
    hook = compat._PatchBeforeMxnet()
    monkeypatch.setattr(sys, "meta_path", [hook, *sys.meta_path])
    assert hook.find_spec("json.decoder") is None
    assert hook in sys.meta_path and "bool" not in vars(numpy_without_bool)
    assert hook.find_spec("mxnet") is None
    assert hook not in sys.meta_path and vars(numpy_without_bool)["bool"] is bool


def test_install_silences_the_banner_unless_asked_otherwise(monkeypatch):
    monkeypatch.delenv("MXNET_SUBGRAPH_VERBOSE", raising=False)
    compat.install()
    assert os.environ["MXNET_SUBGRAPH_VERBOSE"] == "0"
    monkeypatch.setenv("MXNET_SUBGRAPH_VERBOSE", "2")
    compat.install()
    assert os.environ["MXNET_SUBGRAPH_VERBOSE"] == "2"


def test_install_adds_one_hook_however_often_called(monkeypatch):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.delitem(sys.modules, "mxnet", raising=False)
    compat.install()
    compat.install()
    hooks = [h for h in sys.meta_path if isinstance(h, compat._PatchBeforeMxnet)]
    assert len(hooks) == 1


def test_import_mxnet_returns_mxnet_1_9_1():
    assert compat.import_mxnet().__version__ == "1.9.1"
