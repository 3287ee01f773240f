"""The drawing pad app in Voila: draw a digit with the mouse, read the answer."""

import pytest

from helpers.drawing_pad import NO_PREDICTION

pytestmark = pytest.mark.e2e
expect = pytest.importorskip(
    "playwright.sync_api",
    reason="browser tests need Playwright: pip install -r requirements.txt",
).expect


@pytest.fixture(scope="module")
def app_page(browser, voila):
    page = browser.new_page()
    page.goto(voila.url())
    page.locator("canvas.pad-canvas").wait_for()
    yield page
    page.close()


def test_the_app_shows_a_title_and_one_pad_but_no_code(app_page):
    expect(app_page.get_by_role("heading", name="Draw a digit")).to_be_visible()
    expect(app_page.locator("canvas.pad-canvas")).to_have_count(1)
    expect(app_page.get_by_text("DrawingPad")).to_have_count(0)


def test_lenet_reads_a_two_drawn_with_the_mouse(app_page, pads_on, screenshots):
    pads = pads_on(app_page)
    pads.draw(0, pads.TWO)
    expect(pads.label(0, "lenet")).to_have_text("2")
    pads.screenshot(0, screenshots / "voila_app.png")
    assert pads.ink_pixels(0) > 1000
    pads.clear(0)
    expect(pads.label(0, "lenet")).to_have_text(NO_PREDICTION)
    assert pads.ink_pixels(0) == 0
