"""The decision-guide wizard and the results board in a real browser against the real stack.

A person answers the guide's questions, goes back once, reaches a recommendation, reloads its
share URL, clicks Try it live and watches the run's progress bar advance; the same wizard works
without JavaScript; the results board sorts by a metric. Fixtures (the stack started as `make
run` starts it, Debian's Chromium, pages that fail on any console error or failed request, and a
final screenshot under test-artifacts/browser/) come from tests/browser/conftest.py.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

APPROXIMATE = "VAE (ELBO) or diffusion (probability-flow ODE)"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"wizard-{name}.png"), full_page=True)


def question(page) -> str:
    return page.locator("#guide-question-text").inner_text().strip()


def test_answer_go_back_reach_a_result_and_try_it_live(page, site):
    page.goto(f"{site.url}/guide/")
    assert question(page) == "What is the primary goal?"
    assert page.locator(".guide-option").count() == 4
    shot(page, "1-first-question")

    page.get_by_role("link", name=re.compile("Density estimation")).click()
    page.wait_for_url(re.compile(r"a=goal:likelihood$"))
    assert question(page) == "Do you need a tractable, exact likelihood?"
    assert "Density estimation" in page.locator(".guide-path").inner_text()

    page.get_by_role("link", name="← Back").click()  # back once
    page.wait_for_url(re.compile(r"/guide/$"))
    assert question(page) == "What is the primary goal?"

    page.get_by_role("link", name=re.compile("Density estimation")).click()
    page.wait_for_url(re.compile(r"a=goal:likelihood$"))
    page.get_by_role("link", name=re.compile("An approximation is fine")).click()
    page.wait_for_url(re.compile(r"a=goal:likelihood,likelihood:approximate-likelihood$"))
    result = page.locator("#guide-result-title")
    assert result.inner_text() == APPROXIMATE
    for slug in ("vae", "diffusion", "score-sde"):
        assert page.locator(f".guide-recommends a[href='/node/{slug}/']").count() == 1
    assert page.locator(".guide-watch a[href='/node/posterior-collapse/']").count() == 1
    assert page.locator(".guide-tradeoffs tbody tr").count() >= 3
    share = page.locator("#guide-share-url").input_value()
    assert share.endswith("/guide/?a=goal:likelihood,likelihood:approximate-likelihood")

    page.goto(share)  # the shared link reloads the same result
    assert page.locator("#guide-result-title").inner_text() == APPROXIMATE
    assert page.locator(".guide-path li").count() == 2
    shot(page, "2-result")

    panel = page.locator("#try-it-live .run-panel")
    assert panel.get_attribute("data-recipe") == "vae-2d"
    panel.get_by_role("button", name="Run").click()
    page.wait_for_function(
        "() => document.querySelector('#try-it-live .run-progress').value > 0", timeout=120_000
    )
    first = page.locator("#try-it-live .run-progress").evaluate("el => el.value")
    page.wait_for_function(
        f"() => document.querySelector('#try-it-live .run-progress').value > {first}", timeout=60_000
    )
    assert page.locator("#try-it-live .badge").inner_text() in ("running", "succeeded")
    assert "steps/s" in page.locator("#try-it-live .run-rate").inner_text()
    panel.scroll_into_view_if_needed()
    shot(page, "3-running")
    cancel = page.locator("#try-it-live .cancel-button")
    if cancel.is_visible():  # free the worker for the other tests
        cancel.click()
        page.wait_for_function(
            "() => ['cancelled', 'succeeded'].includes("
            "document.querySelector('#try-it-live .badge').dataset.status)",
            timeout=30_000,
        )


def test_number_keys_answer_and_backspace_goes_back(page, site):
    page.goto(f"{site.url}/guide/")
    page.keyboard.press("2")
    page.wait_for_url(re.compile(r"a=goal:modality$"))
    assert question(page) == "Which modality?"
    page.keyboard.press("Backspace")
    page.wait_for_url(re.compile(r"/guide/$"))
    page.keyboard.press("4")
    page.wait_for_url(re.compile(r"a=goal:joint-ebm$"))
    assert page.locator("#guide-result-title").inner_text().startswith("JEM")
    page.get_by_role("link", name="Restart").click()
    page.wait_for_url(re.compile(r"/guide/$"))


def test_the_wizard_works_without_javascript(no_js_page, site):
    page = no_js_page
    page.goto(f"{site.url}/guide/")
    page.get_by_role("link", name=re.compile("High-quality generation")).click()
    page.get_by_role("link", name=re.compile(r"^Text\b")).click()
    page.wait_for_url(re.compile(r"a=goal:modality,modality:text$"))
    assert page.locator("#guide-result-title").inner_text().startswith("AR transformer")
    page.get_by_role("link", name="← Back").click()
    assert question(page) == "Which modality?"


def test_the_results_board_sorts_by_a_metric(page, site):
    page.goto(f"{site.url}/results/")
    page.wait_for_load_state("networkidle")
    page.get_by_role("link", name="Ring of 8 Gaussians").first.click()
    page.wait_for_url(re.compile(r"/results/ring8/$"))
    page.wait_for_load_state("networkidle")  # the server-rendered SVG plots, before navigating away
    assert page.locator("#board-table tbody tr").count() == 7
    plots = page.locator(".board-plots img")
    assert plots.count() >= 10
    assert plots.first.evaluate("img => img.complete && img.naturalWidth > 0")
    page.locator("#board-table thead a.sort", has_text="Recall").click()
    page.wait_for_url(re.compile(r"sort=recall$"))
    assert page.locator("#board-table th.sorted").count() == 1
    page.wait_for_load_state("networkidle")
    shot(page, "4-board")


@pytest.mark.parametrize(
    ("dataset", "score"), [("grid25", "Seeds at the bar"), ("digits", "Fréchet distance")]
)
def test_a_board_row_links_to_the_finals_that_chose_its_configuration(page, site, dataset, score):
    page.goto(f"{site.url}/results/{dataset}/")
    page.locator("#board-table tbody tr a", has_text=re.compile(r"^tuned: config")).first.click()
    page.wait_for_url(re.compile(rf"/results/{dataset}/sweep/#sweep-"))
    section = page.locator(f"section#{page.url.rsplit('#', 1)[1]}")
    finals = section.locator("table.finals-table tbody tr")
    assert finals.count() == 3
    assert section.locator("table.finals-table tr.chosen").count() == 1
    assert section.locator("table.finals-table thead th", has_text=re.compile(f"^{score}$")).count() == 1
    assert section.locator("table.sweep-table:not(.finals-table) tbody tr").count() == 12
    assert section.get_by_text("→ finals").count() == 3
    shot(page, f"5-sweep-finals-{dataset}")
