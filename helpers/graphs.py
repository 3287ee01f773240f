"""Draw a network's graph with graphviz, or describe it in text without ``dot``."""

import shutil

from helpers.compat import import_mxnet

mx = import_mxnet()

MISSING_DOT_NOTE = (
    "Note: Graphviz's `dot` program is not installed, so the graph is shown as "
    "text (install it with `sudo apt-get install graphviz` or "
    "`brew install graphviz` and re-run this cell)."
)


def have_dot():
    """Return True when Graphviz's ``dot`` program is on the PATH."""
    return shutil.which("dot") is not None


def draw_network(symbol, shape, title="network"):
    """Return the graph of symbol for display, or print a text summary.

    shape maps input names to shapes, e.g. ``{"data": (1, 1, 28, 28)}``.
    Without ``dot`` the summary of layers and parameters is printed instead,
    after a one-line note, and None is returned.
    """
    if not have_dot():
        print(MISSING_DOT_NOTE)
        mx.viz.print_summary(symbol, shape=shape)
        return None
    return mx.viz.plot_network(
        symbol,
        title=title,
        shape=shape,
        node_attrs={"shape": "box", "fixedsize": "false"},
        save_format="svg",
        hide_weights=True,
    )
