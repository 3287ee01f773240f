"""Print training throughput with one and two dist_sync workers, and its scaling."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from helpers.distributed import output_paths

JOB_TIMEOUT_SECONDS = 600
# Images per job: enough for a stable epoch time, few enough for a laptop.
TRAIN_SUBSETS = {"mlp": 30000, "lenet": 6000}


def job_command(network, kv_store, num_workers, prefix):
    """The command line of one training job; None workers means no launcher."""
    training = [
        sys.executable,
        "-m",
        "helpers.distributed",
        f"--network={network}",
        f"--kv-store={kv_store}",
        "--num-epochs=2",
        f"--train-subset={TRAIN_SUBSETS[network]}",
        "--max-shift=0",
        f"--output={prefix}",
    ]
    if num_workers is None:
        return training
    launcher = [sys.executable, "-m", "helpers.launch"]
    launcher += [f"--timeout={JOB_TIMEOUT_SECONDS}", "-n", str(num_workers)]
    return launcher + ["-s", "1", "--launcher", "local", *training]


def throughput(network, kv_store, num_workers):
    """Samples per second of all workers together in the second epoch."""
    with tempfile.TemporaryDirectory() as folder:
        prefix = Path(folder) / "job"
        subprocess.run(
            job_command(network, kv_store, num_workers, prefix),
            check=True,
            capture_output=True,
            timeout=JOB_TIMEOUT_SECONDS + 30,
            env={**os.environ, "TQDM_DISABLE": "1"},
        )
        results = [
            json.loads(output_paths(prefix, rank)[1].read_text())
            for rank in range(num_workers or 1)
        ]
    return sum(result["history"]["samples_per_second"][-1] for result in results)


def median_throughput(network, kv_store, num_workers, runs):
    return statistics.median(
        throughput(network, kv_store, num_workers) for _ in range(runs)
    )


LIMITS = (
    "What limits it: on {cores} cores the workers add no computing power. One MXNet "
    "process already keeps every core busy, so two workers split the same cores, "
    "and on top send every gradient to the server and fetch every weight back over "
    "loopback TCP at each batch. Scaling pays with a machine or a GPU per worker."
)

CONFIGURATIONS = [
    ("one process, no kvstore", "local", None),
    ("dist_sync, 1 worker + 1 server", "dist_sync", 1),
    ("dist_sync, 2 workers + 1 server", "dist_sync", 2),
]


def report(network, figures):
    """Print one network's throughputs and its scaling efficiency."""
    print(f"{network}: samples/s of all workers together, second epoch")
    for label, _, _ in CONFIGURATIONS:
        print(f"  {label:<34}{figures[label]:>10,.0f}")
    one, two = (figures[label] for label, _, _ in CONFIGURATIONS[1:])
    print(f"  scaling efficiency t2 / (2 * t1): {two / (2 * one):.2f}")
    alone = figures[CONFIGURATIONS[0][0]]
    print(f"  2 workers against one process without kvstore: {two / alone:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure")
    parser.add_argument(
        "--networks", nargs="+", choices=sorted(TRAIN_SUBSETS), default=["mlp", "lenet"]
    )
    arguments = parser.parse_args()
    cores = os.cpu_count()
    print(f"Data-parallel training on one machine with {cores} cores,")
    print(f"medians of {arguments.runs} runs, digit shifting off.")
    for network in arguments.networks:
        figures = {
            label: median_throughput(network, kv_store, workers, arguments.runs)
            for label, kv_store, workers in CONFIGURATIONS
        }
        report(network, figures)
    print(textwrap.fill(LIMITS.format(cores=cores), width=79))


if __name__ == "__main__":
    main()
