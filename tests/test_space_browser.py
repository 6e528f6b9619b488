"""The Space in a real headless Chromium: paste sequences, see inline validation, classify, see the table and the
plots, explain one sequence; a screenshot goes to test-artifacts/space.png. A regression model is shown the same way:
predicted values beside the base model's, mutagenesis of a chosen target (test-artifacts/space-regression.png).

Needs Debian's `chromium` package (`apt-get install -y chromium`) and the `playwright` Python package; Playwright's
own browser download is not used.
"""

from __future__ import annotations

import contextlib
import csv
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from shared_runs import one_torch_thread
from test_space import XSS_ID, RunningSpace, SpaceAdapters, shared_adapters, start_space

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


@contextlib.contextmanager
def open_page(url: str) -> Iterator[Any]:
    """A page of the app at `url` in headless Chromium, loaded up to domcontentloaded (a Gradio page never reaches
    network idle), with the test's timeouts; the browser is closed afterwards."""
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = _launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            page.goto(url, wait_until="domcontentloaded")
            yield page
        finally:
            browser.close()


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
    from playwright.sync_api import expect

    adapters = browser_space.adapters
    rows = adapters.test_rows
    long_seq = rows[3][0] + rows[4][0] + rows[5][0]  # 300 bp: several windows of the tiny model
    text = f">promoter_probe_1\n{rows[0][0]}\n>{XSS_ID}\n{rows[1][0]}\n>long_region\n{long_seq}\n"
    with open_page(browser_space.url) as page:
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
    assert (ARTIFACTS / "space.png").stat().st_size > 10_000


REGRESSION_REPO = "alice/space-activity"


@pytest.fixture(scope="module")
def regression_space(hub_server, regression_run) -> Iterator[RunningSpace]:
    """The Space serving a regression model (two targets) pushed to the local hub."""
    from hubtune.hub import push_to_hub

    push_to_hub(regression_run, REGRESSION_REPO, token=hub_server.token)
    adapters = SpaceAdapters([REGRESSION_REPO], [regression_run], [])
    with one_torch_thread():
        running = start_space(adapters)
        try:
            yield running
        finally:
            running.close()


def test_a_regression_model_shows_values_beside_its_base_and_explains_a_chosen_target(regression_space):
    from playwright.sync_api import expect

    from hubtune.data.example_tasks import activity_task_path

    with open(activity_task_path() / "test.csv", newline="") as handle:
        seqs = [row["sequence"] for row in csv.DictReader(handle)][:3]
    long_seq = (seqs[1] + seqs[2])[:300]  # two windows of the tiny model
    text = f">enhancer_1\n{seqs[0]}\n>long_enhancer\n{long_seq}\n"
    with open_page(regression_space.url) as page:
        page.locator("#sequences textarea").fill(text)
        expect(page.locator("#validation")).to_contain_text("2 sequence(s)")
        page.locator("#classify").click()

        results = page.locator("#results")
        expect(results).to_contain_text("long_enhancer")
        for column in ("space-activity: developmental", "space-activity: housekeeping",
                       "space-activity: base developmental", "space-activity: base housekeeping"):
            expect(results).to_contain_text(column)
        expect(results).not_to_contain_text("agree")
        expect(page.locator("#status")).to_contain_text("Predicted values of 2 sequence(s) with 1 adapter(s)")
        expect(page.locator("#metrics")).to_contain_text("test Spearman")
        expect(page.locator("#prob-plot img")).to_be_visible()
        expect(page.locator("#pca-plot img")).to_be_visible()

        # Explain the second target of the long sequence, chosen from the adapter's targets.
        page.locator("#pick input").click()
        page.get_by_role("option", name="long_enhancer (300 bp)").click()
        page.locator("#explain-target input").click()
        page.get_by_role("option", name="housekeeping").click()
        page.locator("#explain").click()
        status = page.locator("#explain-status")
        expect(status).to_contain_text("In-silico mutagenesis of long_enhancer")
        expect(status).to_contain_text("Δ predicted housekeeping per base; predicted housekeeping = ")
        expect(page.locator("#ism-plot img")).to_be_visible()
        expect(page.locator("#track-plot img")).to_be_visible()
        page.wait_for_timeout(500)  # let the last image paint before the screenshot
        page.screenshot(path=str(ARTIFACTS / "space-regression.png"), full_page=True)
    assert (ARTIFACTS / "space-regression.png").stat().st_size > 10_000
