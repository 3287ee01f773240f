"""Run MXNet's own job launcher (mxnet/tools/launch.py) safely on today's Python.

``python -m helpers.launch [--timeout S] -n 2 -s 1 --launcher local COMMAND``
takes the same options as MXNet's launcher. Its bundled tracker calls
``Thread.isAlive``, which Python 3.9 removed, and waits forever once a worker
dies; this wrapper restores the name, keeps a local job on 127.0.0.1, and stops
every process of the job when one of them fails or the timeout passes. (With
``--launcher ssh`` those are the local ssh clients: commands on other machines
may outlive them; MXNet's tools/kill-mxnet.py ends them.)
"""

import argparse
import importlib.util
import os
import re
import runpy
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

FAILURE_EXIT_CODE = 1
TIMEOUT_EXIT_CODE = 124
INTERRUPT_EXIT_CODE = 130
STOP_GRACE_SECONDS = 5.0
LEFTOVER_WAIT_SECONDS = 60.0
LOOPBACK = "127.0.0.1"

# The inner process: MXNet's launcher, patched, in a process group of its own.
INNER_COMMAND = "import helpers.launch as launch; launch.run_mxnet_launcher()"


class LauncherNotFoundError(RuntimeError):
    """Raised when the installed mxnet has no tools/launch.py."""


def restore_thread_is_alive():
    """Give threading.Thread back the isAlive name the bundled tracker calls."""
    if not hasattr(threading.Thread, "isAlive"):
        threading.Thread.isAlive = threading.Thread.is_alive


def mxnet_launcher_path():
    """Return the path of launch.py inside the installed mxnet, not importing it."""
    spec = importlib.util.find_spec("mxnet")
    folders = spec.submodule_search_locations if spec else None
    path = Path(folders[0]) / "tools" / "launch.py" if folders else None
    if path is None or not path.is_file():
        raise LauncherNotFoundError(
            "mxnet/tools/launch.py was not found: install the mxnet==1.9.1 wheel, "
            "which ships it along with dmlc_tracker"
        )
    return path


def build_parser():
    """The wrapper's own options; every other argument goes to MXNet's launcher."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.launch",
        description=__doc__.split("\n")[0],
        epilog="Every other argument goes to MXNet's launcher, whose options follow.",
        add_help=False,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--timeout", type=float, help="stop the whole job after this many seconds"
    )
    return parser


def split_arguments(argv):
    """Return (wrapper options, arguments for MXNet's launcher)."""
    options, rest = build_parser().parse_known_args(argv)
    if options.timeout is not None and options.timeout <= 0:
        raise SystemExit(f"error: --timeout must be positive, got {options.timeout}")
    return options, rest


def launcher_kind(launcher_arguments):
    """Return the --launcher MXNet's launcher will use (its default is ssh)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--launcher", default="ssh")
    return parser.parse_known_args(launcher_arguments)[0].launcher


def job_environment(environ, launcher):
    """The environment for the job: this Python first on PATH, quiet progress."""
    env = dict(environ)
    here = os.path.dirname(sys.executable)
    env["PATH"] = os.pathsep.join([here, env.get("PATH", os.defpath)])
    # Several processes share one terminal: their progress bars would collide.
    env.setdefault("TQDM_DISABLE", "1")
    if launcher == "local":
        # Without it ps-lite picks the first non-loopback interface.
        env.setdefault("DMLC_NODE_HOST", LOOPBACK)
    return env


# The local launcher's error ends with the environment as a dict, the ssh
# launcher's command starts with exports: take the last mention of each.
ROLE_PATTERN = re.compile(r"DMLC_ROLE(?:': '|=)(\w+)")
TASK_PATTERN = re.compile(r"DMLC_TASK_ID(?:': '|=)(\d+)")
CODE_PATTERN = re.compile(r"return code=(-?\d+)")


def exit_status(code):
    """Say how a process ended from its return code."""
    if code < 0:
        return f"was killed by signal {-code}"
    return f"exited with code {code}"


def describe_failure(error):
    """One line naming which launched process failed and how."""
    if isinstance(error, subprocess.CalledProcessError):
        text, code = str(error.cmd), error.returncode
    else:
        text = str(error)
        found = CODE_PATTERN.search(text)
        if found is None:
            first_line = (text.splitlines() or [""])[0][:200]
            return f"the launcher failed: {type(error).__name__}: {first_line}"
        code = int(found.group(1))
    roles, tasks = ROLE_PATTERN.findall(text), TASK_PATTERN.findall(text)
    if not roles:
        return f"the scheduler process {exit_status(code)}"
    task = f" (task {tasks[-1]})" if tasks else ""
    return f"a {roles[-1]} process{task} {exit_status(code)}"


def stop_on_failure(hook_arguments):
    """threading.excepthook: report a failed process, then end this launcher."""
    message = describe_failure(hook_arguments.exc_value)
    print(f"error: {message}; stopping the job", file=sys.stderr, flush=True)
    os._exit(FAILURE_EXIT_CODE)  # the supervisor then stops the other processes


def keep_tracker_on_loopback():
    """Make the tracker give 127.0.0.1 as the scheduler's address."""
    from dmlc_tracker import tracker

    tracker.get_host_ip = lambda host_ip=None: LOOPBACK


def wait_for_launched_threads(seconds):
    """Let the launcher's threads see their processes end, within seconds."""
    deadline = time.monotonic() + seconds
    for thread in threading.enumerate():
        if thread is not threading.current_thread():
            thread.join(max(deadline - time.monotonic(), 0))


def run_mxnet_launcher(argv=None):
    """Run MXNet's launcher in this process, with the fixes applied."""
    argv = sys.argv[1:] if argv is None else argv
    restore_thread_is_alive()
    threading.excepthook = stop_on_failure
    if launcher_kind(argv) == "local":
        keep_tracker_on_loopback()
    path = mxnet_launcher_path()
    sys.argv = [str(path), *argv]
    runpy.run_path(str(path), run_name="__main__")
    wait_for_launched_threads(LEFTOVER_WAIT_SECONDS)


def group_alive(group):
    """True while some process of the process group still runs."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(group, grace=STOP_GRACE_SECONDS, leader=None):
    """Terminate every process of the group; kill what is left after grace.

    leader, the Popen that started the group, is reaped along the way: as a
    zombie it would still count as a member.
    """
    for signal_number in (signal.SIGTERM, signal.SIGKILL):
        if not group_alive(group):
            return
        try:
            os.killpg(group, signal_number)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if leader is not None:
                leader.poll()
            if not group_alive(group):
                return
            time.sleep(0.05)


def _raise_interrupt(signal_number, frame):
    raise KeyboardInterrupt


def supervise(process, timeout=None):
    """Wait for the launcher process, then stop its group; return an exit code."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(
            f"error: the job did not finish within {timeout:g} s; stopping it",
            file=sys.stderr,
            flush=True,
        )
        code = TIMEOUT_EXIT_CODE
    except KeyboardInterrupt:
        print("interrupted; stopping the job", file=sys.stderr, flush=True)
        code = INTERRUPT_EXIT_CODE
    finally:
        stop_group(process.pid, leader=process)
        process.wait()
        signal.signal(signal.SIGTERM, previous)
    return code


def main(argv=None):
    """Run MXNet's launcher in a new process group and supervise it."""
    options, launcher_arguments = split_arguments(
        sys.argv[1:] if argv is None else argv
    )
    if launcher_arguments[:1] in (["-h"], ["--help"]):
        print(build_parser().format_help())  # MXNet's help follows
    try:
        mxnet_launcher_path()
    except LauncherNotFoundError as error:
        raise SystemExit(f"error: {error}") from None
    env = job_environment(os.environ, launcher_kind(launcher_arguments))
    process = subprocess.Popen(
        [sys.executable, "-c", INNER_COMMAND, *launcher_arguments],
        env=env,
        start_new_session=True,
    )
    return supervise(process, options.timeout)


if __name__ == "__main__":
    sys.exit(main())
