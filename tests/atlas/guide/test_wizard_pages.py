"""The decision-guide wizard pages at /guide/: the whole tree walked through its own links.

Every option link is followed from the first question, so every leaf must be reached by clicking,
every leaf's recommended (and watch-out) nodes must exist and be linked, share URLs must reload the
same state, back/restart must go where they say, and bad answer strings must give a 400 page with
a clear message, never a 500.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from atlas.graph.models import Node
from atlas.guide import services as guide
from atlas.guide import wizard


class Page(HTMLParser):
    """Start tags with their attributes, and the text of each <a>."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.links: list[tuple[dict[str, str], str]] = []
        self._open: list[tuple[dict[str, str], list[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if tag == "a":
            self._open.append((attributes, []))

    def handle_endtag(self, tag):
        if tag == "a" and self._open:
            attributes, text = self._open.pop()
            self.links.append((attributes, " ".join("".join(text).split())))

    def handle_data(self, data):
        for _, text in self._open:
            text.append(data)

    def having(self, attribute: str) -> list[dict[str, str]]:
        return [attrs for _, attrs in self.tags if attribute in attrs]

    def hrefs(self, css_class: str) -> list[str]:
        return [a["href"] for a, _ in self.links if css_class in a.get("class", "").split()]

    def one(self, attribute: str) -> str:
        found = self.having(attribute)
        assert len(found) == 1, (attribute, found)
        return found[0][attribute]


def fetch(client, url: str, status: int = 200) -> Page:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.content[:400])
    return Page(response.content.decode())


def crawl(client) -> dict[str, tuple[str, Page]]:
    """Every page reachable by clicking answer options from /guide/: {url: (kind, page)}."""
    seen: dict[str, tuple[str, Page]] = {}
    frontier = [wizard.wizard_path()]
    while frontier:
        url = frontier.pop()
        if url in seen:
            continue
        page = fetch(client, url)
        kind = "leaf" if page.having("data-leaf") else "question"
        seen[url] = (kind, page)
        frontier.extend(page.hrefs("guide-option"))
        assert len(seen) < 500, "the wizard links never end"
    return seen


@pytest.fixture
def pages(client):
    return crawl(client)


def test_every_leaf_is_reached_by_clicking_and_every_question_is_asked(pages):
    tree = guide.load_tree()
    leaves = {page.one("data-leaf") for kind, page in pages.values() if kind == "leaf"}
    questions = {page.one("data-question") for kind, page in pages.values() if kind == "question"}
    assert leaves == set(tree.leaves)
    assert questions == set(tree.questions)


def test_every_leaf_recommends_existing_nodes_and_links_them(pages):
    tree = guide.load_tree()
    existing = set(Node.objects.values_list("slug", flat=True))
    for kind, page in pages.values():
        if kind != "leaf":
            continue
        leaf = tree.leaves[page.one("data-leaf")]
        assert leaf.recommends, leaf.id
        assert set(leaf.recommends) <= existing, (leaf.id, set(leaf.recommends) - existing)
        assert set(leaf.watch_out) <= existing, (leaf.id, set(leaf.watch_out) - existing)
        linked = {a["data-slug"] for a in page.having("data-slug")}
        assert set(leaf.recommends) | set(leaf.watch_out) <= linked, leaf.id
        for slug in leaf.recommends:
            assert f"/node/{slug}/" in {a["href"] for a in page.having("href")}


def test_share_urls_reload_the_same_state(client, pages):
    for url, (kind, page) in pages.items():
        if url == wizard.wizard_path():
            continue
        share = next(a["value"] for a in page.having("value") if a.get("id") == "guide-share-url")
        assert share.endswith(url), (share, url)
        again = fetch(client, url)
        key = "data-leaf" if kind == "leaf" else "data-question"
        assert again.one(key) == page.one(key)
        assert again.hrefs("guide-change") == page.hrefs("guide-change")


def test_back_goes_to_the_previous_question_and_restart_to_the_first(client):
    leaf = fetch(client, "/guide/?a=goal:likelihood,likelihood:exact-likelihood")
    assert leaf.one("data-leaf") == "exact-likelihood"
    (back,) = leaf.hrefs("guide-back")
    assert back == "/guide/?a=goal:likelihood"
    assert fetch(client, back).one("data-question") == "likelihood"
    (restart,) = leaf.hrefs("guide-restart")
    assert restart == "/guide/"
    first = fetch(client, restart)
    assert first.one("data-question") == "goal"
    assert first.hrefs("guide-back") == [] and first.hrefs("guide-restart") == []
    # "change" next to the first answer returns to the first question
    assert leaf.hrefs("guide-change")[0] == "/guide/"


def test_the_path_so_far_lists_each_answer(client):
    response = client.get("/guide/?a=goal:modality,modality:text")
    html = response.content.decode()
    assert "What is the primary goal?" in html and "High-quality generation" in html
    assert "Which modality?" in html and '<strong class="guide-path-a">Text</strong>' in html


def test_indices_and_bare_ids_redirect_to_the_canonical_share_url(client):
    response = client.get("/guide/?a=0,1")
    assert response.status_code == 302
    assert response["Location"] == "/guide/?a=goal:likelihood,likelihood:approximate-likelihood"
    response = client.get("/guide/?a=modality, text")
    assert response["Location"] == "/guide/?a=goal:modality,modality:text"
    assert client.get("/guide/?a=").status_code == 200


def test_a_result_explains_itself_and_offers_try_it_live(client):
    page = client.get("/guide/?a=goal:joint-ebm").content.decode()
    parsed = Page(page)
    assert parsed.one("data-leaf") == "joint-ebm"
    assert "exactly the joint formulation asked for" in page  # why
    assert "Hybrid generative-discriminative modelling" in page  # the answer that led there (path)
    assert "guide-tradeoffs" in page and "/lens/divergence/" in page  # lens values of the families
    assert "/node/partition-function-bias/" in page  # watch out
    panels = [a for _, a in parsed.tags if "data-recipe" in a]
    assert [p["data-recipe"] for p in panels] == ["ebm-dsm-2d"]  # the leaf's `recipe: ebm`
    assert 'id="try-it-live"' in page


def test_a_result_without_a_demo_of_its_own_names_its_stand_in_and_why(client):
    page = client.get("/guide/?a=goal:modality,modality:discrete-graphs").content.decode()
    assert "No live demo" not in page
    parsed = Page(page)
    recipes = [a["data-recipe"] for _, a in parsed.tags if "data-recipe" in a]
    assert len(recipes) == 1
    assert "as a stand-in: it is a" in page and "the family the recommendation belongs to" in page


def test_a_recommended_method_s_own_demo_says_it_runs_on_small_data(client):
    page = client.get("/guide/?a=goal:modality,modality:audio").content.decode()
    assert "trains one of the recommended models on 2-D toy data: a small stand-in" in page
    assert "None of the recommended methods" not in page


def test_a_result_has_one_run_heading_and_lists_the_answers_once(client):
    page = client.get("/guide/?a=goal:joint-ebm").content.decode()
    assert page.count(">Run it live<") == 1 and "Try it live</h2>" not in page
    assert page.count("Your answers") == 1


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("nope", "not an answer"),
        ("9", "not an answer"),
        ("goal:nope", "not an answer"),
        ("modality:text", "answers question"),
        ("goal:modality,modality:text,0", "already reached"),
        ("goal:modality,,", "empty answer"),
        ("x" * 300, "too long"),
        ("x," * 1500, "too long"),
        ("%3Cscript%3Ealert(1)%3C/script%3E", "not an answer"),
    ],
)
def test_invalid_answers_give_a_400_page_with_a_clear_message(client, query, fragment):
    response = client.get(f"/guide/?a={query}")
    assert response.status_code == 400
    html = response.content.decode()
    assert fragment in html
    assert "<script>alert" not in html  # escaped
    parsed = Page(html)
    assert parsed.hrefs("guide-restart") == ["/guide/"]
    assert parsed.having("data-question") or parsed.having("data-leaf")  # still a usable page


def test_an_invalid_later_answer_keeps_the_valid_ones(client):
    response = client.get("/guide/?a=goal:likelihood,likelihood:nope")
    assert response.status_code == 400
    page = Page(response.content.decode())
    assert page.one("data-question") == "likelihood"
    assert page.hrefs("guide-back") == ["/guide/"]


def test_no_guide_loaded_is_a_503_page(client, monkeypatch):
    def missing():
        raise guide.GuideMissing("no decision guide is loaded; run `manage.py content load`")

    monkeypatch.setattr(guide, "load_tree", missing)
    response = client.get("/guide/")
    assert response.status_code == 503 and b"content load" in response.content


def test_only_get(client):
    assert client.post("/guide/").status_code == 405


@pytest.mark.parametrize(
    ("url", "max_queries"),
    [
        ("/guide/", 3),
        ("/guide/?a=goal:likelihood", 3),
        ("/guide/?a=goal:modality,modality:latent-dit", 7),
        ("/guide/?a=goal:joint-ebm", 7),
    ],
)
def test_pages_use_a_bounded_number_of_queries(client, django_assert_max_num_queries, url, max_queries):
    client.get(url)  # warm the tree cache
    with django_assert_max_num_queries(max_queries):
        assert client.get(url).status_code == 200
