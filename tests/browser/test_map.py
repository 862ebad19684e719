"""A person's path through the site, in a real browser against the real stack.

Open the map, search a node, open its card, follow an edge, filter by a lens facet and by edge
kind, find a path between two families, step through a tour; on a laptop and a phone screen, with
the keyboard, and without JavaScript. Any console error or failed request fails the test.
"""

from __future__ import annotations

import re

import bibtexparser
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def open_map(page, site, query: str = "") -> None:
    page.goto(f"{site.url}/{query}")
    page.wait_for_selector("#map-app[data-ready=true]")


def card_slug(page) -> str:
    return page.locator("#card-body .card").get_attribute("data-slug")


def test_search_a_node_with_the_keyboard_and_open_its_page(page, site):
    open_map(page, site)
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "site-search"
    page.keyboard.type("flow match")
    options = page.locator("#site-search-results [role=option]")
    options.first.wait_for()
    assert "Flow Matching" in options.first.inner_text()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")  # Enter opens the page itself
    page.wait_for_url(re.compile(r"/node/flow-matching/$"))
    assert page.locator("h1").inner_text() == "Flow Matching"


def test_search_on_the_map_with_alt_enter_opens_the_card(page, site):
    open_map(page, site)
    page.keyboard.press("/")
    page.keyboard.type("flow match")
    page.locator("#site-search-results [role=option]").first.wait_for()
    page.keyboard.press("Alt+Enter")
    page.wait_for_selector("#card-body .card[data-slug=flow-matching]")
    assert "node=flow-matching" in page.url
    card = page.locator("#card-body .card")
    assert card.locator("h2").inner_text() == "Flow Matching"
    assert card.locator(".relation-group").count() > 0
    assert page.locator(".node.selected").get_attribute("href") == "/node/flow-matching/"


def test_a_search_without_a_match_says_so(page, site):
    open_map(page, site)
    page.keyboard.press("/")
    page.keyboard.type("zzqxj")
    status = page.locator("#site-search-status")
    status.get_by_text("No node matches").wait_for()
    assert page.locator("#site-search-results").is_hidden()


def test_click_a_node_open_its_card_and_follow_an_edge(page, site):
    open_map(page, site)
    page.locator(".node[href='/node/gan/'] .shape").click()
    page.wait_for_selector("#card-body .card[data-slug=gan]")
    card = page.locator("#card-body .card")
    assert card.locator(".card-lenses").count() == 1  # lens values of the family
    assert card.locator(".equation math").count() == 1  # the key equation as MathML
    card.locator("a[data-slug=wgan]").first.click()  # follow the variant_of edge
    page.wait_for_selector("#card-body .card[data-slug=wgan]")
    assert "node=wgan" in page.url
    page.go_back()
    page.wait_for_selector("#card-body .card[data-slug=gan]")


def test_hovering_a_node_highlights_its_neighbours_and_explains_the_edges(page, site):
    open_map(page, site)
    page.locator(".node[href='/node/diffusion/'] .shape").hover()
    explain = page.locator("#map-explain")
    assert explain.inner_text().startswith("Diffusion Models:")
    assert "—" in explain.inner_text()
    assert page.locator(".node.hl").count() > 5
    assert page.locator(".edge.hl").count() > 5


def test_filter_by_a_lens_facet(page, site):
    open_map(page, site)
    page.select_option("#facet-filter", "divergence:forward-kl")
    assert "facet=divergence%3Aforward-kl" in page.url or "facet=divergence:forward-kl" in page.url
    assert "forward KL" in page.locator("#active-filters").inner_text()  # the tag as words
    assert "match" in page.locator(".node[href='/node/vae/']").get_attribute("class")
    assert "faded" in page.locator(".node[href='/node/gan/']").get_attribute("class")
    assert "faded" in page.locator(".node[href='/node/wgan/']").get_attribute("class")
    page.click("#clear-filters")
    assert page.locator(".node.faded").count() == 0


def test_show_only_lineage_edges(page, site):
    open_map(page, site)
    page.click("#map-filters summary")
    page.click("[data-edge=lineage]")
    assert page.get_attribute("[data-edge=lineage]", "aria-pressed") == "true"
    visible = page.locator("#map-canvas .edge:not(.hidden):not(.lod-hidden)")
    assert visible.count() > 10
    assert (
        page.locator("#map-canvas .edge.e-lineage:not(.hidden):not(.lod-hidden)").count() == visible.count()
    )
    assert page.locator("#map-canvas .node.k-glossary:not(.hidden)").count() == 0
    assert "edges=lineage" in page.url
    page.click("[data-kind=failure-mode]")  # only failure modes: no lineage edge left
    assert page.locator("#map-canvas .edge:not(.hidden):not(.lod-hidden)").count() == 0


def test_find_a_path_between_two_families(page, site):
    page.goto(f"{site.url}/related/")
    page.fill("input[name=from]", "Diffusion Models")  # searchable inputs, not 261-item lists
    page.fill("input[name=to]", "Energy-Based Models (EBM)")
    page.click("button[type=submit]")
    page.wait_for_selector(".path")
    first = page.locator(".path").first
    assert first.locator("li").count() >= 1
    assert first.locator(".hop-text").first.inner_text().strip()
    assert re.search(r"from=Diffusion\+Models&to=Energy", page.url)


def test_step_through_a_tour(page, site):
    open_map(page, site)
    page.select_option("#tour-select", "circle-1-orientation")
    bar = page.locator("#tour-bar")
    bar.get_by_text("step 1 of").wait_for()
    first = card_slug_when_ready(page)
    bar.get_by_role("button", name="Next →").click()
    bar.get_by_text("step 2 of").wait_for()
    page.wait_for_function("(s) => document.querySelector('#card-body .card')?.dataset.slug !== s", arg=first)
    assert "tour=circle-1-orientation" in page.url and "step=2" in page.url
    bar.get_by_role("button", name="← Previous").click()
    bar.get_by_text("step 1 of").wait_for()
    bar.get_by_role("button", name="End tour").click()
    assert bar.is_hidden()


def card_slug_when_ready(page) -> str:
    page.wait_for_selector("#card-body .card")
    return card_slug(page)


def test_pan_and_zoom(page, site):
    open_map(page, site)
    before = page.get_attribute("#map-canvas svg", "viewBox")
    page.click("[data-zoom=in]")
    zoomed = page.get_attribute("#map-canvas svg", "viewBox")
    assert float(zoomed.split()[2]) < float(before.split()[2])
    box = page.locator("#map-canvas").bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 240, box["y"] + 140, steps=5)
    page.mouse.up()
    assert page.get_attribute("#map-canvas svg", "viewBox").split()[:2] != zoomed.split()[:2]
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 400)
    assert float(page.get_attribute("#map-canvas svg", "viewBox").split()[2]) > float(zoomed.split()[2])


def test_keyboard_moves_between_nodes_and_opens_one(page, site):
    open_map(page, site)
    page.locator(".node[tabindex='0']").focus()
    start = page.evaluate("document.activeElement.getAttribute('href')")
    page.keyboard.press("ArrowRight")
    moved = page.evaluate("document.activeElement.getAttribute('href')")
    assert moved != start and moved.startswith("/node/")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#card-body .card[data-slug={moved.split('/')[2]}]")


def test_a_node_page_with_math_relations_papers_and_bibtex(page, site):
    page.goto(f"{site.url}/node/diffusion/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".key-equation math").count() == 1
    assert page.locator(".relations .relation-group").count() >= 3
    assert page.locator("#live-demos").count() == 1
    with page.expect_download() as download:
        page.locator("a.bib[href='/papers/ho2020ddpm.bib']").click()
    entry = bibtexparser.loads(download.value.path().read_text(encoding="utf-8")).entries[0]
    assert entry["ID"] == "ho2020ddpm"


def test_lens_and_index_pages(page, site):
    page.goto(f"{site.url}/lenses/")
    assert page.locator("table.matrix tbody tr").count() == 6
    page.locator("table.matrix thead th").first.locator("button").click()  # sortable columns
    assert page.get_attribute("table.matrix thead th >> nth=0", "aria-sort") == "ascending"
    page.goto(f"{site.url}/lens/divergence/")
    assert page.locator("table.lens-table tbody tr").count() == 6
    page.goto(f"{site.url}/pipelines/")
    assert page.locator(".pipeline-diagram svg").count() == 3
    for path in ("/unifications/", "/failure-modes/", "/glossary/", "/reading/"):
        page.goto(f"{site.url}{path}")
        assert page.locator(".index-list li, .paper-list li").count() > 3


def test_the_map_on_a_phone(phone, site):
    open_map(phone, site)
    canvas = phone.locator("#map-canvas").bounding_box()
    assert canvas["width"] <= 390 and canvas["height"] > 300
    assert canvas["y"] < 844 / 2  # the map starts in the upper half of the first screen
    phone.locator(".node[href='/node/vae/'] .shape").tap()
    phone.wait_for_selector("#card-body .card[data-slug=vae]")
    canvas = phone.locator("#map-canvas").bounding_box()
    card = phone.locator("#map-card").bounding_box()
    assert canvas["y"] < card["y"] < canvas["y"] + canvas["height"]  # the card opens over the map
    assert card["y"] + card["height"] <= canvas["y"] + canvas["height"] + 1
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # no sideways scrolling
    phone.locator("#card-close").tap()
    assert phone.locator("#map-app").get_attribute("data-selected") is None


def test_without_javascript_every_node_is_a_plain_link(no_js_page, site):
    no_js_page.goto(f"{site.url}/")
    assert no_js_page.locator("#node-index a[href^='/node/']").count() > 250
    assert no_js_page.locator("#map-tools").is_hidden()
    no_js_page.fill("#site-search", "wasserstein")
    no_js_page.press("#site-search", "Enter")
    no_js_page.wait_for_url(re.compile(r"\?q=wasserstein"))
    assert no_js_page.locator(".search-results a[href='/node/wgan/']").count() == 1


def test_a_failure_mode_page_shows_its_published_measurement(page, site):
    # results/experiments/ is loaded at start: a fresh site shows the measured verdict and figures.
    page.goto(f"{site.url}/node/schedule-mismatch/")
    assert "REPRODUCED" in page.locator(".experiment .verdict").inner_text()
    figures = page.locator(".experiment-figures img")
    assert figures.count() >= 1
    figures.first.scroll_into_view_if_needed()
    page.wait_for_function("[...document.querySelectorAll('.experiment-figures img')].every(i => i.complete)")
    assert page.evaluate(
        "[...document.querySelectorAll('.experiment-figures img')].every(i => i.naturalWidth > 0)"
    )
    # its presets run in the page's one live panel, under the measurement they reproduce
    assert page.locator(".experiment [data-recipe='ddpm-2d']").count() >= 1
    assert page.get_by_role("heading", name="Run it live").count() == 1
    captions = page.locator(".experiment-figures figcaption").all_inner_texts()
    assert all(" " in c and "_" not in c for c in captions)  # sentences, not file names
