"""The map read at a glance, node pages built around the live panel, and accessibility.

Labels never overlap (at first sight and after zooming in twice), a family page's Run button is
above the fold, a keyboard-only visitor reaches a node from the map and opens its page, axe-core
(vendored: tests/browser/vendor/axe.min.js) finds no serious or critical violation, no node page
scrolls sideways on a phone, and a finished run reads as a table of grouped metrics.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WIDE_HEIGHT = 900  # conftest.WIDE

# The boxes of every label drawn now, in screen pixels, with the text they show.
LABEL_SELECTOR = "#map-canvas text.label, #map-canvas .region-tag, #map-canvas .axis text"
VISIBLE_LABELS = """() => [...document.querySelectorAll('SELECTOR')]
  .filter((t) => t.getClientRects().length && getComputedStyle(t).display !== 'none')
  .map((t) => { const b = t.getBoundingClientRect();
                return {text: t.textContent, x0: b.left, y0: b.top, x1: b.right, y1: b.bottom}; })""".replace(
    "SELECTOR", LABEL_SELECTOR
)


def open_map(page, site) -> None:
    page.goto(f"{site.url}/")
    page.wait_for_selector("#map-app[data-ready=true]")
    page.wait_for_timeout(100)  # the label pass runs on the next animation frame


def overlaps(labels: list[dict]) -> list[tuple[str, str]]:
    found = []
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            if a["x0"] < b["x1"] and b["x0"] < a["x1"] and a["y0"] < b["y1"] and b["y0"] < a["y1"]:
                found.append((a["text"], b["text"]))
    return found


def test_overlap_check_catches_two_labels_that_intersect():
    """The negative control of the label test: intersecting boxes are reported, touching are not."""
    a = {"text": "a", "x0": 0, "y0": 0, "x1": 10, "y1": 10}
    assert overlaps([a, {"text": "b", "x0": 5, "y0": 5, "x1": 15, "y1": 15}]) == [("a", "b")]
    assert overlaps([a, {"text": "c", "x0": 10, "y0": 0, "x1": 20, "y1": 10}]) == []


def test_no_two_visible_labels_overlap_at_first_sight_or_after_zooming_in_twice(wide, site):
    page = wide
    open_map(page, site)
    first = page.evaluate(VISIBLE_LABELS)
    assert len(first) >= 25  # families, unifications and landmarks are named, not all hidden
    assert overlaps(first) == []
    for _ in range(2):
        page.click("[data-zoom=in]")
        page.wait_for_timeout(150)
        labels = page.evaluate(VISIBLE_LABELS)
        assert overlaps(labels) == []
    assert len(labels) >= 25


def test_zoomed_out_the_map_shows_the_six_families_their_bridges_and_landmarks_only(page, site):
    open_map(page, site)
    shown = page.locator("#map-canvas .node:not(.lod-hidden):not(.hidden)")
    assert 35 <= shown.count() <= 60  # of 261: families, unifications, ~30 landmark methods
    assert page.locator("#map-canvas .region").count() == 6
    assert page.locator("#map-canvas .node.k-family:not(.lod-hidden)").count() == 6
    assert page.locator("#map-canvas .node.k-unification:not(.lod-hidden)").count() >= 6
    assert page.locator("#map-canvas .bridge").count() >= 12
    edges = page.locator("#map-canvas .edge:not(.lod-hidden):not(.hidden)")
    assert page.locator("#map-canvas .edge.e-related:not(.lod-hidden)").count() == 0
    before = edges.count()
    page.locator(".node[href='/node/ddpm/'] .shape").hover()  # its edges appear on hover
    assert edges.count() > before
    assert page.locator("#map-canvas .edge.hl:not(.lod-hidden)").count() >= 3


def test_selecting_a_family_expands_its_band(page, site):
    open_map(page, site)
    band = "#map-canvas .node.fam-gan.k-method:not(.lod-hidden)"
    before = page.locator(band).count()
    page.locator(".node[href='/node/gan/'] .shape").click()
    page.wait_for_selector("#card-body .card[data-slug=gan]")
    page.wait_for_timeout(100)
    assert page.locator(band).count() > before + 5


def test_the_run_button_of_a_family_page_is_visible_without_scrolling(wide, site):
    page = wide
    for family in ("diffusion", "gan", "vae", "flow", "ebm", "autoregressive"):
        page.goto(f"{site.url}/node/{family}/")
        button = page.locator(".run-panel .run-button").first
        box = button.bounding_box()
        assert box is not None and box["y"] + box["height"] <= WIDE_HEIGHT, family
        assert page.evaluate("window.scrollY") == 0
        assert page.get_by_role("heading", name="Run it live").count() == 1


def test_a_node_without_a_demo_says_nothing_about_demos(page, site):
    for slug in ("schedule-mismatch", "diffusion-as-ebm", "elbo"):
        page.goto(f"{site.url}/node/{slug}/")
        text = page.locator("main").inner_text()
        assert "No live demo" not in text and "manage.py" not in text
        assert page.get_by_role("heading", name="Run it live").count() <= 1
        if slug != "elbo":  # a glossary entry with no relation has no neighbourhood to draw
            assert page.locator(".neighbourhood .hood-node").count() >= 1


def test_a_keyboard_only_visitor_reaches_a_node_from_the_map_and_opens_its_page(page, site):
    open_map(page, site)
    for _ in range(80):  # Tab through the header and the map's controls to the map itself
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('node')"):
            break
    else:
        pytest.fail("Tab never reached a node of the map")
    page.keyboard.press("ArrowRight")
    href = page.evaluate("document.activeElement.getAttribute('href')")
    page.keyboard.press("Enter")  # the card opens and takes the focus
    page.wait_for_selector(f"#card-body .card[data-slug={href.split('/')[2]}]")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Open the full page":
            break
    else:
        pytest.fail("Tab never reached the card's link to the page")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(re.escape(href) + "$"))
    assert page.locator("h1").count() == 1


@pytest.mark.parametrize("path", ["/", "/node/diffusion/", "/guide/", "/results/", "board"])
def test_axe_finds_no_serious_or_critical_violation(page, site, path):
    if path == "board":
        page.goto(f"{site.url}/results/")
        path = page.locator(".board-index h2 a").first.get_attribute("href")
    page.goto(f"{site.url}{path}")
    if path == "/":
        page.wait_for_selector("#map-app[data-ready=true]")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []


def test_no_node_page_scrolls_sideways_on_a_phone(phone, site):
    slugs = ["diffusion-as-ebm", "flow-matching", "diffusion", "mode-collapse", "text-generation-pipeline"]
    phone.goto(f"{site.url}/glossary/")
    slugs.append(phone.locator(".index-list a[href^='/node/']").first.get_attribute("href").split("/")[2])
    for slug in slugs:
        phone.goto(f"{site.url}/node/{slug}/")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1, slug


def test_the_phone_menu_collapses_and_opens(phone, site):
    phone.goto(f"{site.url}/node/diffusion/")
    nav = phone.locator("#site-nav")
    assert nav.is_hidden()
    phone.locator("#menu-button").tap()
    assert nav.is_visible() and phone.get_attribute("#menu-button", "aria-expanded") == "true"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 391


def test_a_finished_run_shows_a_readable_metrics_table(wide, site):
    page = wide
    page.goto(f"{site.url}/node/vae/")
    panel = page.locator(".run-panel").first
    panel.locator(".run-settings summary").click()
    panel.locator("input[name=steps]").fill("60")
    panel.locator(".run-button").click()
    page.wait_for_function(
        "() => ['succeeded', 'failed', 'timed_out'].includes("
        "document.querySelector('.run-panel .badge').dataset.status)"
        " && document.querySelector('.run-panel table.metrics')",
        timeout=240_000,
    )
    table = panel.locator("table.metrics")
    groups = table.locator(".metric-group").all_inner_texts()
    assert groups[:3] == ["Sample quality", "Likelihood", "Cost"]
    nll = table.locator("tr", has=page.locator("th", has_text="Test NLL")).inner_text()
    assert "nats/example" in nll and "bound" in nll  # the VAE's likelihood is a bound
    assert "s" in table.locator("tr", has=page.locator("th", has_text="Wall time")).inner_text()
    assert "prdc." not in table.inner_text() and "meets_threshold" not in table.inner_text()
    assert panel.locator(".run-verdict").inner_text().startswith(("Meets", "Misses"))
    assert panel.get_by_role("link", name="raw JSON").count() == 1
    assert "final, step 60" in panel.locator(".preview-step").inner_text()


def test_a_demo_shows_its_quality_at_each_check(wide, site):
    """A demo on a mixture streams the stopping rule's checks: quality over time, not only the loss."""
    page = wide
    page.goto(f"{site.url}/node/autoregressive/")
    panel = page.locator('.run-panel[data-recipe="ar-grid-2d"]')
    panel.locator(".run-settings summary").click()
    panel.locator("input[name=steps]").fill("3000")
    panel.locator(".run-button").click()
    page.wait_for_function(
        "() => document.querySelector('.run-panel[data-recipe=\"ar-grid-2d\"] table.quality-checks tr')",
        timeout=240_000,
    )
    first = panel.locator("table.quality-checks tbody tr").first.inner_text()
    assert " of " in first and "%" in first
    finished = "() => document.querySelector('.run-panel[data-recipe=\"ar-grid-2d\"] table.metrics')"
    page.wait_for_function(finished, timeout=240_000)
    # The finished run's tables and figures fit the side column: nothing is cut off at its edge.
    side = page.locator(".node-side")
    assert side.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the side column scrolls sideways"
    assert panel.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the run panel overflows"
