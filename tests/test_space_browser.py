"""The Space in a real headless Chromium: paste sequences, see inline validation, classify, see the table and the
plots, explain one sequence; a screenshot goes to test-artifacts/space.png.

Needs Debian's `chromium` package (`apt-get install -y chromium`) and the `playwright` Python package; Playwright's
own browser download is not used.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from shared_runs import one_torch_thread
from test_space import XSS_ID, RunningSpace, shared_adapters, start_space

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TIMEOUT_MS = 120_000  # model work on a busy 2-core runner


@pytest.fixture(scope="module")
def browser_space(hub_server, tmp_path_factory) -> Iterator[RunningSpace]:
    with one_torch_thread():  # tiny models: single-threaded is fastest on a shared runner
        running = start_space(shared_adapters(hub_server, tmp_path_factory))
        try:
            yield running
        finally:
            running.close()


def _launch_chromium(playwright):
    if not CHROMIUM.is_file():
        found = shutil.which("chromium")
        pytest.fail(
            f"{CHROMIUM} is missing{f' (found {found})' if found else ''}: the browser test needs Debian's chromium. "
            "Install it with `apt-get update && apt-get install -y chromium`.",
            pytrace=False,
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)


def test_paste_classify_and_explain_in_a_real_browser(browser_space):
    from playwright.sync_api import expect, sync_playwright

    adapters = browser_space.adapters
    rows = adapters.test_rows
    long_seq = rows[3][0] + rows[4][0] + rows[5][0]  # 300 bp: several windows of the tiny model
    text = f">promoter_probe_1\n{rows[0][0]}\n>{XSS_ID}\n{rows[1][0]}\n>long_region\n{long_seq}\n"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = _launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            page.goto(browser_space.url)
            textarea = page.locator("#sequences textarea")

            # Inline validation: a bad character is reported with its position before anything runs.
            textarea.fill("ACGTX")
            expect(page.locator("#validation")).to_contain_text("'X' at position 5")

            # Examples from the first adapter's metadata are offered and paste into the box on click.
            example = page.locator("#examples").get_by_text("test1 label=", exact=False).first
            expect(example).to_be_visible()
            example.click()
            expect(textarea).to_have_value(f">{adapters.examples[0]['id']} label={adapters.examples[0]['label']}\n"
                                           f"{adapters.examples[0]['sequence']}\n")

            textarea.fill(text)
            expect(page.locator("#validation")).to_contain_text("3 sequence(s), 500 bp")
            page.locator("#classify").click()

            results = page.locator("#results")
            expect(results.get_by_text("promoter_probe_1")).to_be_visible()
            expect(results.get_by_text("long_region")).to_be_visible()
            expect(results).to_contain_text(XSS_ID)  # the id is shown as text ...
            assert results.locator("img").count() == 0  # ... and never becomes markup
            assert page.evaluate("window.__hubtune_xss") is None
            expect(results).to_contain_text("space-promoter-seed1: p(promoter)")
            expect(results).to_contain_text("space-promoter-seed2: agree")
            expect(page.locator("#status")).to_contain_text("Classified 3 sequence(s) with 2 adapter(s)")
            expect(page.locator("#metrics")).to_contain_text("pre-trained probe")
            expect(page.locator("#prob-plot img")).to_be_visible()
            expect(page.locator("#pca-plot img")).to_be_visible()
            expect(page.locator("#csv")).to_contain_text(".csv")

            # Explain the long sequence: mutagenesis map and per-window score track.
            page.locator("#pick input").click()
            page.get_by_role("option", name="long_region (300 bp)").click()
            page.locator("#explain").click()
            expect(page.locator("#explain-status")).to_contain_text("In-silico mutagenesis of long_region")
            expect(page.locator("#ism-plot img")).to_be_visible()
            expect(page.locator("#track-plot img")).to_be_visible()
            page.wait_for_timeout(500)  # let the last image paint before the screenshot
            page.screenshot(path=str(ARTIFACTS / "space.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "space.png").stat().st_size > 10_000
