"""Tests of helpers.workbook: notebook order, summaries, progress bars, saving."""

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import (
    new_code_cell,
    new_markdown_cell,
    new_notebook,
    new_output,
)

import helpers.data
from helpers.workbook import (
    NOTEBOOKS_DIR,
    SUMMARY_TAG,
    WIDGET_VIEW,
    drop_progress_bars,
    execute,
    is_progress_bar,
    notebook_paths,
    save,
    summary_of,
)

NOTEBOOK_NAMES = [
    "01_data.ipynb",
    "02_mlp.ipynb",
    "03_network_visualization.ipynb",
    "04_lenet.ipynb",
    "05_drawing_pad.ipynb",
    "06_scaling_out.ipynb",
]


def stream(text, name="stdout"):
    return new_output("stream", name=name, text=text)


def widget(text):
    return new_output(
        "display_data",
        data={
            WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0},
            "text/plain": text,
        },
    )


def progress_bar():
    return widget("epoch 1/2:  40%|####      | 240/600 [00:02<00:03, 95.1batch/s]")


def tagged(cell, *tags):
    cell.metadata["tags"] = list(tags)
    return cell


@pytest.fixture
def tiny_notebook():
    """A notebook with a summary, a progress bar, other widgets and outputs."""
    return new_notebook(
        cells=[
            new_markdown_cell("# A tiny notebook"),
            new_code_cell(
                "train()",
                outputs=[progress_bar(), stream("epoch  1/2: train accuracy 0.9\n")],
            ),
            tagged(
                new_code_cell(
                    "print(summary)",
                    outputs=[
                        stream("accuracy 0.98\n"),
                        new_output("execute_result", data={"text/plain": "'value'"}),
                    ],
                ),
                SUMMARY_TAG,
            ),
            new_code_cell("slider", outputs=[widget("IntSlider(value=3)")]),
            tagged(
                new_code_cell("print(more)", outputs=[stream("  shapes fine  \n")]),
                "nbval-ignore-output",
                SUMMARY_TAG,
            ),
            tagged(new_code_cell("print(1)", outputs=[stream("1\n")]), "other"),
        ]
    )


def make_notebooks(folder, names):
    folder.mkdir(exist_ok=True)
    for name in names:
        nbformat.write(new_notebook(), folder / name)


def test_notebook_paths_orders_and_keeps_only_numbered_notebooks(tmp_path):
    make_notebooks(
        tmp_path,
        ["10_last.ipynb", "02_b.ipynb", "01_a.ipynb", "app.ipynb", "1_short.ipynb"],
    )
    (tmp_path / "03_notes.txt").write_text("not a notebook")
    paths = notebook_paths(tmp_path)
    assert [path.name for path in paths] == [
        "01_a.ipynb",
        "02_b.ipynb",
        "10_last.ipynb",
    ]
    assert all(path.parent == tmp_path for path in paths)


def test_notebook_paths_filters_by_name(tmp_path):
    make_notebooks(tmp_path, ["01_data.ipynb", "02_mlp.ipynb", "04_lenet.ipynb"])
    assert [path.name for path in notebook_paths(tmp_path, ["02"])] == ["02_mlp.ipynb"]
    assert [path.name for path in notebook_paths(tmp_path, ("lenet", "01"))] == [
        "01_data.ipynb",
        "04_lenet.ipynb",
    ]
    assert notebook_paths(tmp_path, ["09"]) == []


def test_notebook_paths_of_an_empty_or_missing_folder(tmp_path):
    assert notebook_paths(tmp_path) == []
    assert notebook_paths(tmp_path / "missing") == []


def test_the_workbooks_notebooks_in_order():
    assert [path.name for path in notebook_paths()] == NOTEBOOK_NAMES
    assert notebook_paths(NOTEBOOKS_DIR, ["app"]) == []


def test_summary_of_joins_the_printed_text_of_summary_cells(tiny_notebook):
    assert summary_of(tiny_notebook) == "accuracy 0.98\nshapes fine"


def test_summary_of_a_notebook_without_summary_cells():
    notebook = new_notebook(cells=[new_code_cell("x", outputs=[stream("x\n")])])
    assert summary_of(notebook) == ""
    assert summary_of(new_notebook()) == ""


def test_is_progress_bar():
    assert is_progress_bar(progress_bar())
    assert not is_progress_bar(widget("IntSlider(value=3)"))
    assert not is_progress_bar(stream(" 40%|####      | 240/600"))
    assert not is_progress_bar(
        new_output("display_data", data={"text/plain": " 40%|####  | 2/5"})
    )


def test_drop_progress_bars_keeps_every_other_output(tiny_notebook):
    result = drop_progress_bars(tiny_notebook)
    assert result is tiny_notebook
    outputs = [cell.get("outputs") for cell in tiny_notebook.cells]
    assert outputs[0] is None  # the markdown cell
    assert outputs[1] == [stream("epoch  1/2: train accuracy 0.9\n")]
    assert len(outputs[2]) == 2
    assert outputs[3] == [widget("IntSlider(value=3)")]
    assert [len(cell_outputs) for cell_outputs in outputs[4:]] == [1, 1]
    assert summary_of(tiny_notebook) == "accuracy 0.98\nshapes fine"


def test_save_writes_the_notebook_and_an_html_copy(tiny_notebook, tmp_path):
    path = tmp_path / "saved" / "01_tiny.ipynb"
    html_dir = tmp_path / "html"
    save(tiny_notebook, path, html_dir=html_dir)
    stored = nbformat.read(path, as_version=4)
    nbformat.validate(stored)
    assert stored.cells[1].outputs == [stream("epoch  1/2: train accuracy 0.9\n")]
    assert summary_of(stored) == "accuracy 0.98\nshapes fine"
    assert sorted(item.name for item in path.parent.iterdir()) == ["01_tiny.ipynb"]
    assert sorted(item.name for item in html_dir.iterdir()) == ["01_tiny.html"]
    html = (html_dir / "01_tiny.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "A tiny notebook" in html and "accuracy 0.98" in html
    assert "240/600" not in html


def test_save_without_html_writes_only_the_notebook(tiny_notebook, tmp_path):
    save(tiny_notebook, tmp_path / "02_tiny.ipynb")
    assert [item.name for item in tmp_path.iterdir()] == ["02_tiny.ipynb"]


def test_save_replaces_an_older_copy(tiny_notebook, tmp_path):
    path = tmp_path / "03_tiny.ipynb"
    path.write_text("old")
    save(tiny_notebook, path)
    assert nbformat.read(path, as_version=4).cells[0].source == "# A tiny notebook"
    assert [item.name for item in tmp_path.iterdir()] == ["03_tiny.ipynb"]


def test_a_failed_save_leaves_the_older_copy(tiny_notebook, tmp_path, monkeypatch):
    path = tmp_path / "04_tiny.ipynb"
    path.write_text("old")

    def failing_fsync(descriptor):
        raise OSError("disk full")

    monkeypatch.setattr(helpers.data.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        save(tiny_notebook, path)
    assert path.read_text() == "old"
    assert [item.name for item in tmp_path.iterdir()] == ["04_tiny.ipynb"]


def test_execute_runs_every_cell_in_a_fresh_kernel(tmp_path):
    path = tmp_path / "01_run.ipynb"
    (tmp_path / "message.txt").write_text("read from the notebook's folder")
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Runs"),
            tagged(
                new_code_cell("print(open('message.txt').read())\nprint(6 * 7)"),
                SUMMARY_TAG,
            ),
            new_code_cell("6 * 7"),
        ]
    )
    nbformat.write(notebook, path)
    executed = execute(path)
    assert summary_of(executed) == "read from the notebook's folder\n42"
    assert executed.cells[2].outputs[0]["data"]["text/plain"] == "42"
    assert nbformat.read(path, as_version=4).cells[1].outputs == []


def test_execute_fails_on_a_failing_cell(tmp_path):
    path = tmp_path / "02_fails.ipynb"
    notebook = new_notebook(
        cells=[new_code_cell("print('before')"), new_code_cell("1 / 0")]
    )
    nbformat.write(notebook, path)
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        execute(path)


def test_execute_of_a_missing_notebook(tmp_path):
    with pytest.raises(FileNotFoundError):
        execute(tmp_path / "07_missing.ipynb")
