"""Tests of helpers.distributed and helpers.launch: shards, options, real jobs."""

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import distributed, launch, plots
from helpers.data import REPOSITORY_ROOT
from helpers.training import load_params

JOB_TIMEOUT = 150  # seconds a whole launched job may take here
FAILURE_TIMEOUT = 120  # seconds within which a failed job must be reported
DIST_ACCURACY = 0.90  # measured 0.919 for the MLP, 2 epochs on 10,000 images

ROLE_REPORT = """
import json, os, sys
sys.stdout.write(json.dumps({
    "role": os.environ["DMLC_ROLE"],
    "python": sys.executable,
    "node host": os.environ.get("DMLC_NODE_HOST"),
    "scheduler": os.environ.get("DMLC_PS_ROOT_URI"),
    "hooked": any(type(h).__name__ == "_PatchBeforeMxnet" for h in sys.meta_path),
}) + "\\n")  # one write, so that lines of parallel processes stay whole
"""

WORKER_ONE_FAILS = """
import os, sys, time
if os.environ["DMLC_ROLE"] == "worker" and os.environ["DMLC_TASK_ID"] == "1":
    sys.exit(3)
time.sleep(600)
"""


def python_command(code):
    """One shell word running code with the first python on PATH."""
    return shlex.join(["python", "-c", code])


def run_launcher(arguments, timeout=JOB_TIMEOUT, cwd=REPOSITORY_ROOT):
    """Run python -m helpers.launch; stop it if it outlives timeout."""
    process = subprocess.Popen(
        [sys.executable, "-m", "helpers.launch", *arguments],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    start = time.monotonic()
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # the wrapper stops its job
        stdout, stderr = process.communicate(timeout=30)
        pytest.fail(f"launcher still running after {timeout} s:\n{stderr[-3000:]}")
    return process.returncode, stdout, stderr, time.monotonic() - start


def processes_mentioning(text):
    """Process ids whose command line contains text (none known without /proc)."""
    if not Path("/proc/self").exists():
        return []
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and text.encode() in command:
            found.append(int(entry.name))
    return found


def local_job(num_workers=2, *extra):
    return ["-n", str(num_workers), "-s", "1", "--launcher", "local", *extra]


# --- helpers.distributed: options, shards, kvstore -------------------------


def test_arguments_have_sensible_defaults():
    arguments = distributed.parse_arguments([])
    assert arguments.network == "mlp" and arguments.kv_store == "local"
    assert arguments.num_epochs == 1 and arguments.batch_size == 100
    assert arguments.output is None and arguments.fail_after_batches is None


def test_arguments_are_parsed():
    arguments = distributed.parse_arguments(
        "--network lenet --kv-store dist_async --num-epochs 3 --batch-size 64 "
        "--learning-rate 0.2 --train-subset 6000 --output out/run "
        "--contexts cpu:0,cpu:1 --fail-after-batches 0".split()
    )
    assert (arguments.network, arguments.kv_store) == ("lenet", "dist_async")
    assert (arguments.num_epochs, arguments.batch_size) == (3, 64)
    assert arguments.learning_rate == 0.2 and arguments.train_subset == 6000
    assert arguments.output == Path("out/run")
    assert [str(c) for c in arguments.contexts] == ["cpu(0)", "cpu(1)"]
    assert arguments.fail_after_batches == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--kv-store", "nccl"],
        ["--network", "resnet"],
        ["--num-epochs", "0"],
        ["--batch-size", "-5"],
        ["--contexts", "tpu:0"],
        ["--contexts", "gpu:first"],
        ["--fail-after-batches", "-1"],
    ],
)
def test_bad_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        distributed.parse_arguments(argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_recipe_keeps_the_network_recipe_unless_told():
    recipe = distributed.recipe_for(distributed.parse_arguments(["--num-epochs", "2"]))
    assert recipe.num_epochs == 2
    assert recipe.learning_rate == distributed.RECIPES["mlp"].learning_rate
    assert recipe.max_shift == distributed.RECIPES["mlp"].max_shift
    changed = distributed.recipe_for(
        distributed.parse_arguments(["--learning-rate", "0.3", "--max-shift", "0"])
    )
    assert changed.learning_rate == 0.3 and changed.max_shift == 0


@given(
    num_samples=st.integers(1, 500),
    num_workers=st.integers(1, 8),
    seed=st.integers(0, 2**31),
    data=st.data(),
)
def test_shards_hold_every_sample_exactly_once(num_samples, num_workers, seed, data):
    subset = data.draw(st.one_of(st.none(), st.integers(1, num_samples)))
    total = num_samples if subset is None else subset
    if total < num_workers:
        with pytest.raises(ValueError, match="cannot feed"):
            distributed.shard_indices(num_samples, 0, num_workers, seed, subset)
        return
    shards = [
        distributed.shard_indices(num_samples, rank, num_workers, seed, subset)
        for rank in range(num_workers)
    ]
    joined = np.concatenate(shards)
    assert len(joined) == total == len(np.unique(joined))
    assert joined.min() >= 0 and joined.max() < num_samples
    sizes = [len(shard) for shard in shards]
    assert max(sizes) - min(sizes) <= 1
    padded = [distributed.padded_shard(shard, total, num_workers) for shard in shards]
    assert len({len(shard) for shard in padded}) == 1, "unequal batches deadlock"
    for shard, longer in zip(shards, padded):
        assert set(longer) == set(shard)


def test_shards_follow_the_seed():
    first = distributed.shard_indices(100, 0, 2, seed=1)
    assert np.array_equal(first, distributed.shard_indices(100, 0, 2, seed=1))
    assert not np.array_equal(first, distributed.shard_indices(100, 0, 2, seed=2))


@pytest.mark.parametrize("rank, num_workers", [(2, 2), (-1, 2), (0, 0)])
def test_shard_of_a_missing_worker_is_refused(rank, num_workers):
    with pytest.raises(ValueError, match="rank"):
        distributed.shard_indices(10, rank, num_workers)


def test_dist_kvstore_without_a_launcher_names_the_fix(monkeypatch):
    monkeypatch.delenv("DMLC_ROLE", raising=False)
    with pytest.raises(RuntimeError, match="helpers.launch"):
        distributed.create_kvstore("dist_sync")
    assert distributed.create_kvstore("local") == "local"


def test_launched_worker_with_a_local_kvstore_is_refused(monkeypatch):
    monkeypatch.setenv("DMLC_ROLE", "worker")
    with pytest.raises(RuntimeError, match="dist_sync"):
        distributed.create_kvstore("local")


@pytest.mark.slow
def test_local_training_writes_parameters_and_result(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "helpers.distributed", "--train-subset", "2000"]
        + ["--max-shift", "0", "--output", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=JOB_TIMEOUT,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "epoch  1/1" in result.stdout
    params_path, result_path = distributed.output_paths(tmp_path / "run", 0)
    summary = json.loads(result_path.read_text())
    assert (summary["rank"], summary["num_workers"]) == (0, 1)
    assert summary["train_samples"] == 2000
    assert summary["test_accuracy"] > 0.5, summary["test_accuracy"]
    arg_params, _ = load_params(params_path)
    assert arg_params["fc1_weight"].shape == (128, 784)


def test_the_kvstore_diagram_has_both_panels():
    figure = plots.kvstore_diagram()
    texts = " ".join(t.get_text() for axis in figure.axes for t in axis.texts)
    assert len(figure.axes) == 2
    for word in ("kvstore", "server", "scheduler", "worker 1", "dist_async"):
        assert word in texts


# --- helpers.launch: the fixes around MXNet's launcher ---------------------


def test_is_alive_is_restored(monkeypatch):
    monkeypatch.delattr(threading.Thread, "isAlive", raising=False)
    launch.restore_thread_is_alive()
    thread = threading.Thread(target=time.sleep, args=(0.2,))
    thread.start()
    assert thread.isAlive()
    thread.join()
    assert not thread.isAlive()


def test_the_wheel_ships_the_launcher_and_tracker():
    path = launch.mxnet_launcher_path()
    assert path.name == "launch.py" and path.parent.name == "tools"
    from dmlc_tracker import local, tracker  # noqa: F401 (what launch.py imports)


def test_wrapper_options_are_taken_out_in_order():
    options, rest = launch.split_arguments(
        "--timeout 30 -n 2 -s 1 --launcher local python -m helpers.distributed "
        "--kv-store dist_sync --num-epochs 1".split()
    )
    assert options.timeout == 30
    assert rest == (
        "-n 2 -s 1 --launcher local python -m helpers.distributed "
        "--kv-store dist_sync --num-epochs 1".split()
    )
    assert launch.launcher_kind(rest) == "local"
    assert launch.launcher_kind(["-n", "2", "python"]) == "ssh"


def test_bad_timeout_is_refused():
    with pytest.raises(SystemExit, match="timeout"):
        launch.split_arguments(["--timeout", "0", "-n", "1", "python"])


def test_job_environment_puts_this_python_first_and_stays_on_loopback():
    env = launch.job_environment({"PATH": "/usr/bin"}, "local")
    assert env["PATH"].split(os.pathsep)[0] == os.path.dirname(sys.executable)
    assert env["DMLC_NODE_HOST"] == "127.0.0.1"
    assert env["TQDM_DISABLE"] == "1"
    remote = launch.job_environment({"PATH": "/usr/bin"}, "ssh")
    assert "DMLC_NODE_HOST" not in remote
    chosen = launch.job_environment({"DMLC_NODE_HOST": "10.0.0.5"}, "local")
    assert chosen["DMLC_NODE_HOST"] == "10.0.0.5"


@pytest.mark.parametrize(
    "error, expected",
    [
        (
            RuntimeError(
                "Get nonzero return code=3 on ['python'] "
                "{'PATH': '/bin', 'DMLC_TASK_ID': '1', 'DMLC_ROLE': 'worker'}"
            ),
            "a worker process (task 1) exited with code 3",
        ),
        (
            RuntimeError(
                "Get nonzero return code=-9 on ['python'] {'DMLC_ROLE': 'server'}"
            ),
            "a server process was killed by signal 9",
        ),
        (
            subprocess.CalledProcessError(1, "python -m helpers.distributed"),
            "the scheduler process exited with code 1",
        ),
        (
            subprocess.CalledProcessError(
                255, "ssh host 'export DMLC_ROLE=worker; cd /x; python'"
            ),
            "a worker process exited with code 255",
        ),
        (OSError("no such file\nmore"), "the launcher failed: OSError: no such file"),
    ],
)
def test_failures_are_described_in_one_line(error, expected):
    assert launch.describe_failure(error) == expected


def test_stop_group_ends_every_process_of_the_group():
    process = subprocess.Popen(
        ["bash", "-c", "sleep 300 & sleep 300 & wait"], start_new_session=True
    )
    time.sleep(0.3)
    start = time.monotonic()
    launch.stop_group(process.pid, grace=5, leader=process)
    assert time.monotonic() - start < 5, "SIGTERM should have been enough"
    assert process.wait(timeout=5) != 0
    assert not launch.group_alive(process.pid)


@pytest.mark.slow
def test_every_role_runs_this_python_with_the_compat_hook(tmp_path):
    code, stdout, stderr, _ = run_launcher(
        ["--timeout", "60", *local_job(2), python_command(ROLE_REPORT)], cwd=tmp_path
    )
    assert code == 0, stderr
    reports = [json.loads(line) for line in stdout.splitlines()]
    roles = sorted(report["role"] for report in reports)
    assert roles == ["scheduler", "server", "worker", "worker"]
    for report in reports:
        assert Path(report["python"]).parent == Path(sys.executable).parent
        assert report["hooked"], "helpers.compat did not reach a launched process"
        assert report["scheduler"] == "127.0.0.1"
    assert all(
        r["node host"] == "127.0.0.1" for r in reports if r["role"] != "scheduler"
    )


@pytest.mark.slow
def test_a_failing_worker_stops_the_job_quickly(tmp_path):
    marker = f"marker-{tmp_path.name}"
    command = python_command(WORKER_ONE_FAILS + f"# {marker}")
    code, _, stderr, seconds = run_launcher(
        ["--timeout", "60", *local_job(2), command], cwd=tmp_path
    )
    assert code == launch.FAILURE_EXIT_CODE, stderr
    assert "error: a worker process (task 1) exited with code 3" in stderr
    assert seconds < 30, f"took {seconds:.0f} s to notice"
    assert not processes_mentioning(marker), "processes were left behind"


@pytest.mark.slow
def test_a_job_that_outlives_its_timeout_is_stopped(tmp_path):
    marker = f"marker-{tmp_path.name}"
    command = python_command(f"import time; time.sleep(600)  # {marker}")
    code, _, stderr, seconds = run_launcher(
        ["--timeout", "3", *local_job(1), command], cwd=tmp_path
    )
    assert code == launch.TIMEOUT_EXIT_CODE, stderr
    assert "did not finish within 3 s" in stderr
    assert seconds < 20
    assert not processes_mentioning(marker), "processes were left behind"


@pytest.mark.slow
def test_a_terminated_launcher_stops_its_job(tmp_path):
    marker = f"marker-{tmp_path.name}"
    command = python_command(f"import time; time.sleep(600)  # {marker}")
    process = subprocess.Popen(
        [sys.executable, "-m", "helpers.launch", *local_job(1), command],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while len(processes_mentioning(marker)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)  # scheduler, server and worker have started
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == launch.INTERRUPT_EXIT_CODE
    assert "stopping the job" in process.stderr.read()
    assert not processes_mentioning(marker), "processes were left behind"


FAKE_SSH = """#!/bin/bash
# Stands in for ssh: runs the remote command (the last argument) right here.
exec bash -c "${@: -1}"
"""


@pytest.fixture
def fake_ssh(tmp_path, monkeypatch):
    """Put an ssh that runs its command locally first on PATH; return a hostfile."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "ssh").write_text(FAKE_SSH)
    (folder / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    hostfile = tmp_path / "hosts"
    hostfile.write_text("127.0.0.1\n")
    return hostfile


@pytest.mark.slow
def test_the_ssh_launcher_runs_every_role(tmp_path, fake_ssh):
    (tmp_path / "role.py").write_text(ROLE_REPORT)
    code, stdout, stderr, _ = run_launcher(
        ["--timeout", "60", "-n", "2", "-s", "1", "--launcher", "ssh"]
        + ["-H", str(fake_ssh), "python", "role.py"],
        cwd=tmp_path,
    )
    assert code == 0, stderr
    reports = [json.loads(line) for line in stdout.splitlines()]
    roles = sorted(report["role"] for report in reports)
    assert roles == ["scheduler", "server", "worker", "worker"]
    assert all(
        r["node host"] == "127.0.0.1" for r in reports if r["role"] != "scheduler"
    )


@pytest.mark.slow
def test_a_failing_worker_stops_an_ssh_job(tmp_path, fake_ssh):
    marker = f"marker-{tmp_path.name}"
    script = tmp_path / "fails.py"
    script.write_text(
        "import os, sys, time\n"
        "if os.environ['DMLC_ROLE'] == 'worker':\n    sys.exit(3)\n"
        f"time.sleep(600)  # {marker}\n"
    )
    code, _, stderr, seconds = run_launcher(
        ["--timeout", "60", "-n", "1", "-s", "1", "--launcher", "ssh"]
        + ["-H", str(fake_ssh), "python", script.name],
        cwd=tmp_path,
    )
    assert code == launch.FAILURE_EXIT_CODE, stderr
    assert "error: a worker process exited with code 3" in stderr
    assert seconds < 30
    assert not processes_mentioning(marker), "processes were left behind"


# --- real MXNet jobs over the loopback interface -----------------------------


@pytest.mark.slow
def test_dist_sync_workers_end_with_the_same_parameters(tmp_path):
    prefix = tmp_path / "sync"
    code, stdout, stderr, _ = run_launcher(
        [
            "--timeout",
            str(JOB_TIMEOUT - 10),
            *local_job(2),
            "python -m helpers.distributed --kv-store dist_sync --network mlp",
            f"--num-epochs 2 --train-subset 10000 --output {prefix}",
        ]
    )
    assert code == 0, stderr[-3000:]
    results = [
        json.loads(distributed.output_paths(prefix, r)[1].read_text()) for r in (0, 1)
    ]
    assert [r["rank"] for r in results] == [0, 1]
    assert all(r["num_workers"] == 2 and r["train_samples"] == 5000 for r in results)
    params = [load_params(distributed.output_paths(prefix, r)[0])[0] for r in (0, 1)]
    assert params[0].keys() == params[1].keys()
    for name in params[0]:
        assert np.array_equal(
            params[0][name].asnumpy(), params[1][name].asnumpy()
        ), name
    accuracy = results[0]["test_accuracy"]
    assert accuracy == results[1]["test_accuracy"]
    assert accuracy >= DIST_ACCURACY, f"test accuracy {accuracy:.4f} < {DIST_ACCURACY}"
    assert "worker 0/2 epoch  2/2" in stdout and "worker 1/2 epoch  2/2" in stdout


@pytest.mark.slow
def test_a_crashed_dist_sync_worker_fails_the_run_without_hanging(tmp_path):
    prefix = tmp_path / "crash"
    code, _, stderr, seconds = run_launcher(
        [
            *local_job(2),
            "python -m helpers.distributed --kv-store dist_sync --num-epochs 1",
            f"--train-subset 6000 --fail-after-batches 5 --output {prefix}",
        ],
        timeout=FAILURE_TIMEOUT,
    )
    assert code == launch.FAILURE_EXIT_CODE, stderr[-3000:]
    assert "crashing on purpose" in stderr
    assert "error: a worker process" in stderr and "exited with code 3" in stderr
    assert seconds < FAILURE_TIMEOUT
    assert not processes_mentioning(str(prefix)), "processes were left behind"
    assert not distributed.output_paths(prefix, 0)[1].exists()
