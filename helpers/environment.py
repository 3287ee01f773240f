"""Prepare a virtual environment for the workbook: ``python -m helpers.environment``.

Writes a start-up hook (a ``.pth`` file) so that every Python of the
environment applies ``helpers.compat.install()`` before anything else:
notebook kernels and processes started by MXNet's launcher then import
mxnet cleanly too, whatever they import first.
"""

import sysconfig
from pathlib import Path

from helpers.compat import check_python

STARTUP_HOOK_NAME = "mnist_workbook_compat.pth"
STARTUP_HOOK_LINE = "import helpers.compat; helpers.compat.install()\n"


def startup_hook_path():
    """Where the start-up hook of this environment lives."""
    return Path(sysconfig.get_paths()["purelib"], STARTUP_HOOK_NAME)


def write_startup_hook():
    """Write the start-up hook into this environment; return its path."""
    path = startup_hook_path()
    path.write_text(STARTUP_HOOK_LINE)
    return path


def main():
    check_python()
    print(f"Start-up hook written to {write_startup_hook()}")


if __name__ == "__main__":
    main()
