"""The app in a real browser on the bundled model: headless Debian chromium driven by Playwright (never a
downloaded browser). Each flow saves a screenshot in artifacts/screenshots/ to look at."""

import json
import os
import time
import urllib.parse
from pathlib import Path

import pytest
from conftest import REPO, running_app
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "artifacts" / "screenshots"
# Without these flags chromium keeps trying to reach Google's servers, which this sandbox refuses.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]  # fmt: skip
TIMEOUT_MS = 30_000

if not CHROMIUM.exists():
    if os.environ.get("GAN_REQUIRE_BROWSER"):
        raise RuntimeError("GAN_REQUIRE_BROWSER is set but /usr/bin/chromium is missing: apt-get install chromium")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")
sync_playwright, PlaywrightTimeout = sync_api.sync_playwright, sync_api.TimeoutError


@pytest.fixture(scope="module")
def browser():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with running_app(str(REPO / "pretrained")) as url, sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield chromium, url
        chromium.close()


def open_page(browser, query: str = "", width: int = 1280):
    chromium, url = browser
    page = chromium.new_page(viewport={"width": width, "height": 900})
    page.goto(url + query)
    page.wait_for_selector("#current img", timeout=TIMEOUT_MS)
    wait_for_caption(page, lambda text: text.startswith(("seed", "own latent")))
    return page


@pytest.fixture(scope="module")
def page(browser):
    page = open_page(browser)
    yield page
    page.close()


def current_source(page) -> str:
    return page.locator("#current img").first.get_attribute("src")


def current_bytes(page) -> bytes:
    return page.request.get(current_source(page)).body()


def caption(page) -> str:
    return page.locator("#caption").inner_text().strip()


def wait_for_caption(page, condition):
    deadline = time.time() + TIMEOUT_MS / 1000
    while not condition(caption(page)):
        assert time.time() < deadline, f"caption stayed {caption(page)!r}"
        time.sleep(0.1)


def wait_for_new_image(page, selector: str, before: str | None):
    page.wait_for_function(
        "([selector, before]) => { const img = document.querySelector(selector); return img && img.src !== before; }",
        arg=[selector, before],
        timeout=TIMEOUT_MS,
    )


def assert_no_error_toast(page):
    assert page.locator(".toast-body.error").count() == 0, page.locator(".toast-body").all_inner_texts()


def test_the_page_opens_on_a_picture_and_every_class_of_it(page):
    page.wait_for_selector("#class-grid img", timeout=TIMEOUT_MS)
    captions = page.locator("#class-grid .gallery-item").all_inner_texts()
    assert [text.strip() for text in captions][:3] == ["T-shirt/top", "Trouser", "Pullover"] and len(captions) == 10
    assert caption(page) == "seed 0 · T-shirt/top"
    box = page.locator("#current img").bounding_box()
    assert box["width"] >= 300 and box["height"] >= 300
    assert_no_error_toast(page)
    page.screenshot(path=SCREENSHOTS / "load-wide.png", full_page=True)


def test_clicking_a_class_makes_it_current(page):
    before = current_source(page)
    page.locator("#class-grid .gallery-item").nth(7).click()
    wait_for_caption(page, lambda text: text == "seed 0 · Sneaker")
    wait_for_new_image(page, "#current img", before)
    assert "class=Sneaker" in page.input_value("#share textarea, #share input")
    page.screenshot(path=SCREENSHOTS / "class-click.png", full_page=True)


def test_typing_a_seed_and_choosing_a_class_rerender_at_once(page):
    before = current_source(page)
    page.fill("#seed input", "42")
    wait_for_caption(page, lambda text: text.startswith("seed 42"))
    wait_for_new_image(page, "#current img", before)
    before = current_source(page)
    page.locator("#seed input").press("ArrowUp")
    wait_for_caption(page, lambda text: text.startswith("seed 43"))
    wait_for_new_image(page, "#current img", before)
    before = current_source(page)
    page.locator("#class input").click()
    page.get_by_role("option", name="Bag").click()
    wait_for_caption(page, lambda text: text == "seed 43 · Bag")
    wait_for_new_image(page, "#current img", before)
    assert_no_error_toast(page)


def test_clicking_a_sample_makes_its_seed_current(page):
    page.get_by_role("tab", name="Samples").click()
    page.wait_for_selector("#sample-grid img", timeout=TIMEOUT_MS)
    tile = page.locator("#sample-grid .gallery-item").nth(3)
    assert tile.inner_text().strip() == "seed 3 · Bag"  # the page of the current class, Bag
    before = current_source(page)
    tile.click()
    wait_for_caption(page, lambda text: text == "seed 3 · Bag")
    wait_for_new_image(page, "#current img", before)
    assert_no_error_toast(page)


def test_dragging_a_direction_updates_the_picture_during_the_drag(page):
    page.get_by_role("tab", name="Directions").click()
    slider = page.locator("#direction-1 input[type=range]")
    slider.wait_for()
    page.evaluate("""() => { window.seen = []; new MutationObserver(() => {
        const src = document.querySelector('#current img')?.src;
        if (src && src !== window.seen.at(-1)) window.seen.push(src); })
      .observe(document.querySelector('#current'), {subtree: true, attributes: true, childList: true}); }""")
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    start = time.perf_counter()
    for step in range(1, 41):
        page.mouse.move(box["x"] + box["width"] * (0.5 + 0.45 * step / 40), y)
        page.wait_for_timeout(50)
    during = page.evaluate("window.seen.length")
    seconds = time.perf_counter() - start
    page.mouse.up()
    wait_for_caption(page, lambda text: "d1 +" in text)
    (SCREENSHOTS / "drag-rate.json").write_text(json.dumps({"updates": during, "seconds": round(seconds, 2)}))
    assert during >= 3, f"{during} picture updates during a {seconds:.1f}-s drag"
    page.wait_for_selector("#preview-8 img", timeout=TIMEOUT_MS)  # the previews follow once the slider is still
    page.wait_for_timeout(1000)
    assert "d1+" in urllib.parse.unquote(
        page.locator("#preview-1 img").get_attribute("src")
    )  # they show the steered picture
    assert_no_error_toast(page)
    page.screenshot(path=SCREENSHOTS / "directions-drag.png", full_page=True)


def test_handing_two_classes_to_interpolate_morphs_between_them(page):
    page.fill("#seed input", "5")
    wait_for_caption(page, lambda text: text.startswith("seed 5 · Bag"))
    page.get_by_role("tab", name="Interpolate").click()
    before = page.locator("#interpolation-gif img").get_attribute("src")
    page.click("#interpolate-use-a")
    wait_for_new_image(page, "#interpolation-gif img", before)
    page.get_by_role("tab", name="Classes").click()
    page.locator("#class-grid .gallery-item").nth(9).click()
    wait_for_caption(page, lambda text: text.startswith("seed 5 · Ankle boot"))
    page.get_by_role("tab", name="Interpolate").click()
    before = page.locator("#interpolation-gif img").get_attribute("src")
    page.click("#interpolate-use-b")
    wait_for_new_image(page, "#interpolation-gif img", before)
    assert json.loads(page.input_value("#interpolate-b input"))["class"] == "Ankle boot"
    assert json.loads(page.input_value("#interpolate-a input"))["class"] == "Bag"
    assert_no_error_toast(page)
    page.screenshot(path=SCREENSHOTS / "interpolate-across-classes.png", full_page=True)
    before = current_source(page)
    page.locator("#interpolation-frames .gallery-item").nth(7).click()
    wait_for_caption(page, lambda text: text == "own latent · Ankle boot")
    wait_for_new_image(page, "#current img", before)


def test_arithmetic_makes_its_result_current(page):
    page.get_by_role("tab", name="Arithmetic").click()
    page.fill("#arithmetic-b input", "3, 8, 12")
    before = current_source(page)
    page.click("#arithmetic")
    wait_for_new_image(page, "#current img", before)
    assert caption(page).startswith("own latent")
    assert_no_error_toast(page)
    page.screenshot(path=SCREENSHOTS / "arithmetic.png", full_page=True)


def test_an_uploaded_latent_file_becomes_the_current_picture(page, tmp_path):
    page.get_by_text("Latent as JSON: copy, download, upload").click()  # open the side panel
    upload = tmp_path / "mine.json"
    upload.write_text(page.input_value("#latent textarea"))
    expected = current_bytes(page)
    page.fill("#seed input", "77")
    wait_for_caption(page, lambda text: text.startswith("seed 77"))
    page.locator("input[type=file]").first.set_input_files(upload)
    wait_for_caption(page, lambda text: text.startswith("own latent"))
    assert current_bytes(page) == expected
    assert_no_error_toast(page)


def test_an_uploaded_picture_is_found_in_the_model_made_current_and_steered(page, fashion_mnist, tmp_path):
    _, test = fashion_mnist
    photo = tmp_path / "boot.png"
    Image.fromarray(255 - test.images[0][..., 0]).resize((140, 140)).save(photo)  # dark on white, 5× larger
    open_tab(page, "Your picture")
    page.locator("#invert-upload input[type=file]").set_input_files(photo)
    before = current_source(page)
    page.click("#invert-run")
    page.wait_for_selector("#invert-result img", timeout=120_000)
    wait_for_new_image(page, "#current img", before)
    wait_for_caption(page, lambda text: text == "own latent · Ankle boot")
    assert "mean" in page.locator("#invert-caption").inner_text()
    page.screenshot(path=SCREENSHOTS / "invert-wide.png", full_page=True)
    inverted = current_bytes(page)
    open_tab(page, "Directions")
    slider = page.locator("#direction-1 input[type=range]")
    slider.fill("1.5")
    slider.dispatch_event("input")
    wait_for_caption(page, lambda text: text == "own latent · Ankle boot · d1 +1.5")
    assert current_bytes(page) != inverted
    assert_no_error_toast(page)


def test_the_nearest_training_images_and_the_timeline_show_for_the_current_picture(page):
    open_tab(page, "Copied?")
    page.wait_for_selector("#neighbours-grid .gallery-item", timeout=120_000)
    captions = page.locator("#neighbours-grid .gallery-item").all_inner_texts()
    assert captions[0].strip() == "the current image" and "distance" in captions[1]
    page.screenshot(path=SCREENSHOTS / "neighbours-wide.png", full_page=True)
    open_tab(page, "Training")
    page.wait_for_selector("#timeline-grid img", timeout=TIMEOUT_MS)
    assert page.locator("#timeline-caption").inner_text().startswith("After epoch")
    page.screenshot(path=SCREENSHOTS / "timeline-wide.png", full_page=True)
    assert_no_error_toast(page)


def test_a_share_link_reopens_the_same_picture(browser, page):
    page.get_by_role("tab", name="Directions").click()
    link = page.input_value("#share textarea, #share input")
    assert "?" in link
    expected = current_bytes(page)
    shared = open_page(browser, "?" + link.split("?", 1)[1])
    assert caption(shared) == caption(page) and current_bytes(shared) == expected
    shared.screenshot(path=SCREENSHOTS / "shared-link.png", full_page=True)
    shared.close()


def test_a_bad_share_link_warns_and_shows_the_default_picture(browser):
    page = open_page(browser, "?seed=-4&class=Hat")
    page.wait_for_selector(".toast-body", timeout=TIMEOUT_MS)
    assert "The link's seed must be in 0 … 4294967295, got -4" in page.locator(".toast-body").first.inner_text()
    assert caption(page) == "seed 0 · T-shirt/top"
    page.close()


def draw_trousers(page):
    """Trousers drawn with the mouse, black on the white canvas: a waistband and two legs."""
    open_tab(page, "Your picture")
    page.get_by_role("tab", name="Draw").click()
    page.wait_for_selector("#invert-draw button[aria-label=Brush].highlight", timeout=TIMEOUT_MS)  # chosen for us
    canvas = page.locator("#invert-draw canvas").first
    box = canvas.bounding_box()

    def stroke(x0, y0, x1, y1):
        page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + x1 * box["width"], box["y"] + y1 * box["height"], steps=12)
        page.mouse.up()

    stroke(0.34, 0.12, 0.66, 0.12)
    stroke(0.37, 0.12, 0.33, 0.9)
    stroke(0.63, 0.12, 0.67, 0.9)


def test_a_drawing_is_found_in_the_model_and_made_current(page):
    draw_trousers(page)
    page.screenshot(path=SCREENSHOTS / "draw-wide.png", full_page=True)
    before = current_source(page)
    page.click("#invert-draw-run")
    wait_for_new_image(page, "#current img", before)
    wait_for_caption(page, lambda text: text == "own latent · Trouser")
    assert "in class Trouser" in page.locator("#invert-caption").inner_text()
    page.screenshot(path=SCREENSHOTS / "draw-inverted-wide.png", full_page=True)
    assert_no_error_toast(page)


def open_tab(page, name: str):
    """Click a tab, through Gradio's "More tabs" menu when it does not fit the width."""
    tab, item = page.get_by_role("tab", name=name), page.locator(".overflow-dropdown button", has_text=name)
    for _ in range(100):  # the tab bar re-lays itself out after each click
        for target in (tab, item):
            try:
                if target.is_visible():
                    target.click(timeout=1000)  # the menu may close under the pointer; then try again
                    return
            except PlaywrightTimeout:
                pass
        if page.locator(".overflow-dropdown.hide").count():
            page.click("button[aria-label='More tabs']")
        page.wait_for_timeout(100)
    raise AssertionError(f"the {name} tab cannot be reached")


def test_at_400_px_the_picture_stays_above_its_controls_and_every_tool_is_reachable(browser):
    page = open_page(browser, "?seed=7&class=Sneaker&d2=1", width=400)
    image, seed = page.locator("#current img").bounding_box(), page.locator("#seed").bounding_box()
    assert image["y"] + image["height"] <= seed["y"] and image["width"] >= 240
    page.screenshot(path=SCREENSHOTS / "narrow-400.png", full_page=True)
    for name, inside in (("Directions", "#direction-8"), ("Interpolate", "#interpolate"), ("Arithmetic", "#arithmetic"),
                         ("Samples", "#sample-grid"), ("Your picture", "#invert-run"), ("Copied?", "#neighbours-grid"),
                         ("Training", "#timeline-grid"), ("Classes", "#class-grid")):  # fmt: skip
        open_tab(page, name)
        page.locator(inside).wait_for(state="visible", timeout=TIMEOUT_MS)
        if name in ("Directions", "Your picture", "Training"):
            page.wait_for_timeout(1000)
            page.screenshot(path=SCREENSHOTS / f"narrow-400-{name.split()[0].lower()}.png", full_page=True)
    assert_no_error_toast(page)
    page.close()
