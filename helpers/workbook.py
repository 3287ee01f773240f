"""Execute the notebooks in order, save them with HTML copies, summarise them.

``python -m helpers.workbook`` writes executed notebooks and HTML to build/;
``--in-place`` stores the outputs in notebooks/ instead (Restart & Run All).
"""

import argparse
import re
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from helpers.data import REPOSITORY_ROOT, write_atomically

NOTEBOOKS_DIR = REPOSITORY_ROOT / "notebooks"
BUILD_DIR = REPOSITORY_ROOT / "build"
SUMMARY_TAG = "summary"
CELL_TIMEOUT_SECONDS = 1800
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PROGRESS_PATTERN = re.compile(r"\d+%\|")


def notebook_paths(notebooks_dir=NOTEBOOKS_DIR, names=()):
    """Return the workbook's notebooks in order, optionally only those named."""
    paths = sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"))
    if isinstance(names, str):
        names = [names]
    if names:
        paths = [path for path in paths if any(name in path.name for name in names)]
    return paths


def execute(path):
    """Run every cell of the notebook at path in a fresh kernel; return it."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path(path).parent)}},
    )
    client.execute()
    return notebook


def summary_of(notebook):
    """Return the text printed by the notebook's cells tagged 'summary'."""
    lines = []
    for cell in notebook.cells:
        if SUMMARY_TAG in cell.get("metadata", {}).get("tags", []):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream":
                    lines.append(output["text"].strip())
    return "\n".join(lines)


def is_progress_bar(output):
    """True for a tqdm progress-bar widget, which means nothing once stored."""
    data = output.get("data", {})
    return WIDGET_VIEW in data and PROGRESS_PATTERN.search(data.get("text/plain", ""))


def drop_progress_bars(notebook):
    """Remove stored progress-bar widgets; the per-epoch lines stay."""
    for cell in notebook.cells:
        if "outputs" in cell:
            cell.outputs = [out for out in cell.outputs if not is_progress_bar(out)]
    return notebook


def save(notebook, path, html_dir=None):
    """Write the executed notebook to path, and an HTML copy into html_dir."""
    drop_progress_bars(notebook)
    write_atomically(path, nbformat.writes(notebook).encode())
    if html_dir is not None:
        body, _ = HTMLExporter().from_notebook_node(notebook)
        write_atomically(Path(html_dir) / (Path(path).stem + ".html"), body.encode())


def main():
    """Execute the notebooks and print what each one found."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("names", nargs="*", help="run only these, e.g. 01 02")
    parser.add_argument("--in-place", action="store_true", help="store outputs")
    arguments = parser.parse_args()
    total_start = time.perf_counter()
    for path in notebook_paths(names=arguments.names):
        start = time.perf_counter()
        notebook = execute(path)
        if arguments.in_place:
            save(notebook, path)
        else:
            save(notebook, BUILD_DIR / path.name, html_dir=BUILD_DIR)
        seconds = time.perf_counter() - start
        print(f"== {path.name} ({seconds:.0f} s)\n{summary_of(notebook)}", flush=True)
    print(f"Workbook executed in {time.perf_counter() - total_start:.0f} s.")


if __name__ == "__main__":
    main()
