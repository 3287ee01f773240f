"""Notebook 5 in JupyterLab: run every cell, then draw on its pads with the mouse."""

import pytest

from helpers.drawing_pad import NO_PREDICTION

pytestmark = pytest.mark.e2e
expect = pytest.importorskip(
    "playwright.sync_api",
    reason="browser tests need Playwright: pip install -r requirements.txt",
).expect

NOTEBOOK = "05_drawing_pad.ipynb"
KERNEL_IDLE = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    return panel?.sessionContext?.session?.kernel?.status === "idle";
}"""
# Notes in the page whether Run All Cells succeeded once it has finished.
RUN_ALL_CELLS = """() => {
    window.runAllCells = "running";
    window.jupyterapp.commands.execute("notebook:run-all-cells").then(
        succeeded => { window.runAllCells = succeeded ? "succeeded" : "failed"; },
        error => { window.runAllCells = String(error); },
    );
}"""
RUN_SECONDS = 600


@pytest.fixture(scope="module")
def notebook_page(browser, jupyterlab, screenshots):
    """Notebook 5 open in JupyterLab, after Run All Cells."""
    page = browser.new_page()
    page.goto(jupyterlab.url(f"lab/tree/{NOTEBOOK}"))
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    page.wait_for_function(KERNEL_IDLE)
    page.evaluate(RUN_ALL_CELLS)
    page.wait_for_function(
        "() => window.runAllCells !== 'running'", timeout=RUN_SECONDS * 1000
    )
    page.screenshot(path=screenshots / "jupyterlab_run_all.png")
    yield page
    page.close()


def test_every_cell_runs_without_an_error(notebook_page):
    errors = notebook_page.locator("[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.first.inner_text()
    assert notebook_page.evaluate("window.runAllCells") == "succeeded"
    expect(notebook_page.locator("canvas.pad-canvas")).to_have_count(2)


def test_lenet_reads_a_seven_drawn_on_the_first_pad(
    notebook_page, pads_on, screenshots
):
    pads = pads_on(notebook_page)
    pads.clear(0)
    pads.draw(0, pads.SEVEN)
    expect(pads.label(0, "lenet")).to_have_text("7")
    pads.screenshot(0, screenshots / "jupyterlab_first_pad.png")


def test_the_two_pads_are_independent(notebook_page, pads_on, screenshots):
    pads = pads_on(notebook_page)
    pads.clear(0)
    pads.clear(1)
    expect(pads.label(0, "lenet")).to_have_text(NO_PREDICTION)
    pads.draw(1, pads.ONE)
    expect(pads.label(1, "lenet")).to_have_text("1")
    expect(pads.label(0, "lenet")).to_have_text(NO_PREDICTION)
    expect(pads.label(0, "mlp")).to_have_text(NO_PREDICTION)
    assert pads.ink_pixels(0) == 0 and pads.ink_pixels(1) > 1000
    pads.screenshot(1, screenshots / "jupyterlab_second_pad.png")
