"""The app in a real browser: headless Debian chromium driven by Playwright (never a downloaded browser)."""

import os
from pathlib import Path

import pytest
from conftest import REPO, running_app

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "artifacts" / "screenshots"
# Without these flags chromium keeps trying to reach Google's servers, which this sandbox refuses.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]  # fmt: skip

if not CHROMIUM.exists():
    if os.environ.get("GAN_REQUIRE_BROWSER"):
        raise RuntimeError("GAN_REQUIRE_BROWSER is set but /usr/bin/chromium is missing: apt-get install chromium")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright


@pytest.fixture(scope="module")
def page(tiny_model_dir):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with running_app(str(tiny_model_dir)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_selector("#generate")
        yield page
        browser.close()


def image_source(page, element_id):
    return page.locator(f"#{element_id} img").first.get_attribute("src")


def assert_no_error_toast(page):
    assert page.locator(".toast-body.error").count() == 0


def wait_for_new_image(page, element_id, before):
    page.wait_for_function(
        "([id, before]) => document.querySelector(`#${id} img`)?.src !== before",
        arg=[element_id, before],
        timeout=30_000,
    )


def test_generate_shows_an_image(page):
    page.wait_for_selector("#grid img", timeout=30_000)  # the first grid comes with the page
    before = image_source(page, "grid")
    page.fill("#seed input", "12345")
    page.click("#generate")
    wait_for_new_image(page, "grid", before)
    assert image_source(page, "grid") != before
    assert_no_error_toast(page)
    page.screenshot(path=SCREENSHOTS / "sample.png", full_page=True)


def test_moving_a_direction_slider_changes_the_image(page):
    page.get_by_role("tab", name="Directions").click()
    slider = page.locator("#direction-1 input[type=range]")
    slider.wait_for()
    box = slider.bounding_box()
    middle_y = box["y"] + box["height"] / 2
    page.mouse.click(box["x"] + box["width"] * 0.5, middle_y)  # release at 0: the base image
    page.wait_for_selector("#steered img", timeout=30_000)
    before = image_source(page, "steered")
    page.mouse.move(box["x"] + box["width"] * 0.5, middle_y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.9, middle_y, steps=5)
    page.mouse.up()
    wait_for_new_image(page, "steered", before)
    assert image_source(page, "steered") != before
    assert_no_error_toast(page)
    page.screenshot(path=SCREENSHOTS / "directions.png", full_page=True)
