"""Make MXNet 1.9.1 import cleanly on every supported Python and numpy.

MXNet 1.9.1 reads ``numpy.bool``, an alias that numpy 1.24 removed, and
imports ``distutils``, which Python 3.12 removed (setuptools brings it back).
``install()`` restores the alias the moment ``mxnet`` is first imported, so
the fix reaches notebook kernels and child processes through a ``.pth`` file
that ``make`` writes into the virtual environment.
"""

import importlib.abc
import os
import sys

SUPPORTED_PYTHONS = ((3, 10), (3, 11), (3, 12))


class UnsupportedPythonError(RuntimeError):
    """Raised on a Python version MXNet 1.9.1 cannot run on."""


def check_python(version_info=sys.version_info):
    """Raise UnsupportedPythonError unless the Python version is supported."""
    if tuple(version_info[:2]) not in SUPPORTED_PYTHONS:
        found = ".".join(str(part) for part in version_info[:3])
        raise UnsupportedPythonError(
            f"Python {found} is not supported: MXNet 1.9.1 needs numpy < 2, "
            "which has wheels for Python 3.10, 3.11 and 3.12 only. "
            "Install one of those and run `make lab PYTHON=python3.11`."
        )


def restore_numpy_aliases():
    """Give numpy back the ``numpy.bool`` alias MXNet 1.9.1 still reads."""
    import numpy

    if "bool" not in numpy.__dict__:
        numpy.bool = bool


def quiet_mxnet_logging():
    """Silence the oneDNN banner MXNet prints to stderr at the first bind."""
    os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")


class _PatchBeforeMxnet(importlib.abc.MetaPathFinder):
    """Restores the numpy aliases just before ``mxnet`` is imported."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "mxnet":
            sys.meta_path.remove(self)
            restore_numpy_aliases()
        return None


def install():
    """Prepare this interpreter for importing MXNet, without importing it."""
    quiet_mxnet_logging()
    if "mxnet" in sys.modules:
        return
    if not any(isinstance(hook, _PatchBeforeMxnet) for hook in sys.meta_path):
        sys.meta_path.insert(0, _PatchBeforeMxnet())


def import_mxnet():
    """Import and return mxnet with the compatibility fixes applied."""
    check_python()
    install()
    import mxnet

    return mxnet
