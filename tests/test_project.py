"""Checks of the project as a whole: formatting, notebooks, pinned requirements."""

import re
import subprocess
import sys

import nbformat
import pytest

from helpers.data import REPOSITORY_ROOT

NOTEBOOKS = sorted((REPOSITORY_ROOT / "notebooks").glob("*.ipynb"))
NOTEBOOK_CODE_WIDTH = 79
WARNING_PATTERN = re.compile(r"Warning:|Traceback \(most recent call last\)")


def test_helpers_tests_and_benchmarks_are_formatted_with_black():
    folders = ["helpers", "tests", "benchmarks"]
    result = subprocess.run(
        [sys.executable, "-m", "black", "--check", "--quiet", *folders],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"run `black {' '.join(folders)}`:\n{result.stderr}"


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_code_fits_79_columns(path):
    notebook = nbformat.read(path, as_version=4)
    too_wide = [
        line
        for cell in notebook.cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line) > NOTEBOOK_CODE_WIDTH
    ]
    assert not too_wide, f"{path.name}: lines over {NOTEBOOK_CODE_WIDTH} columns"


def _stored_texts(notebook):
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                yield f"{output.ename}: {output.evalue}"
            elif output.output_type == "stream":
                yield output.text
            elif "text/plain" in output.get("data", {}):
                yield output.data["text/plain"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_stored_executed_without_warnings_or_errors(path):
    notebook = nbformat.read(path, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in code_cells]
    assert counts == list(range(1, len(code_cells) + 1)), "Restart & Run All first"
    problems = [
        text for text in _stored_texts(notebook) if WARNING_PATTERN.search(text)
    ]
    assert not problems, f"{path.name} stores warnings or errors: {problems[:3]}"
    stderr = [
        output.text
        for cell in code_cells
        for output in cell.outputs
        if output.output_type == "stream" and output.name == "stderr"
    ]
    assert not stderr, f"{path.name} stores stderr output: {stderr[:3]}"


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip().lstrip("- ").strip()
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^;\s]+)(.*)$", line)
        if match:
            name, version, marker = match.groups()
            if "3.12" in marker and ">=" in marker:
                continue  # Python 3.12's numpy: conda pins Python 3.11
            pins[name.lower()] = version
    return pins


def test_environment_yml_pins_what_requirements_txt_pins():
    requirements = _pins(
        (REPOSITORY_ROOT / "requirements.txt").read_text().splitlines()
    )
    environment = _pins((REPOSITORY_ROOT / "environment.yml").read_text().splitlines())
    assert requirements == environment


def test_every_requirement_is_pinned():
    for line in (REPOSITORY_ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert "==" in line, f"not pinned: {line}"
