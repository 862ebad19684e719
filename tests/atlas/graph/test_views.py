"""Pages of the map: every page renders with a bounded number of queries; 404s; BibTeX; no-JS list."""

from __future__ import annotations

import json

import bibtexparser
import pytest
from django.test import Client

from atlas.graph import services
from atlas.graph.models import ContentVersion, Node
from atlas.papers.models import Paper

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("atlas_content")]

# Each page costs a fixed number of queries whatever the amount of content (261 nodes, 633 edges,
# ~200 papers here). Node pages: node, edges out, edges in, citations, lens values, tour steps,
# the content hash again for the neighbourhood map (all of these once per content version),
# plus one run-panel query per recipe of the node.
PAGES = [
    ("/", 2),
    ("/?q=diffusion", 3),
    ("/node/vae/", 8),
    ("/node/diffusion/", 8),
    ("/node/ddpm/", 8),
    ("/node/autoregressive/", 8),
    ("/node/divergence/", 8),
    ("/node/diffusion-as-ebm/", 8),
    ("/node/mode-collapse/", 8),
    ("/node/text-generation-pipeline/", 8),
    ("/node/circle-1-orientation/", 8),
    ("/node/elbo/", 8),
    ("/node/vae/card/", 5),
    ("/node/divergence/card/", 5),
    ("/lenses/", 2),
    ("/lens/divergence/", 4),
    ("/lens/normaliser-strategy/", 4),
    ("/unifications/", 2),
    ("/failure-modes/", 2),
    ("/open-problems/", 2),
    ("/research-directions/", 2),
    ("/confusions/", 2),
    ("/trends/", 2),
    ("/pipelines/", 2),
    ("/glossary/", 2),
    ("/reading/", 3),
    ("/tours/circle-1-orientation/", 2),
    ("/related/", 1),
    ("/related/?from=vae&to=diffusion", 3),  # + the unifications' claims
]


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.mark.parametrize(("url", "max_queries"), PAGES)
def test_every_page_renders_with_bounded_queries(client, django_assert_max_num_queries, url, max_queries):
    client.get(url)  # warm the in-process graph cache: later requests never rebuild it
    with django_assert_max_num_queries(max_queries):
        response = client.get(url)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/node/no-such-node/",
        "/node/no-such-node/card/",
        "/lens/vae/",
        "/lens/nope/",
        "/tours/vae/",
        "/papers/nope.bib",
    ],
)
def test_unknown_slugs_are_404(client, url):
    assert client.get(url, follow=True).status_code == 404


@pytest.mark.parametrize(
    ("url", "api_url"),
    [
        ("/graph.json", "/api/graph/?include=map"),
        ("/papers/ho2020ddpm.bib", "/api/papers/ho2020ddpm/?format=bibtex"),
    ],
)
def test_page_side_data_urls_redirect_onto_the_api(client, url, api_url):
    """One implementation per resource: the page-side URL answers what the API answers."""
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == api_url
    assert client.get(url, follow=True).content == client.get(api_url).content


def test_every_node_page_renders(client, django_assert_max_num_queries):
    services.get_graph()  # built once per content version (tested in test_services), not per page
    for slug in Node.objects.values_list("slug", flat=True):
        with django_assert_max_num_queries(9):
            response = client.get(f"/node/{slug}/")
        assert response.status_code == 200, slug


def test_every_lens_page_renders(client):
    for slug in Node.objects.filter(kind__in=["lens", "axis"]).values_list("slug", flat=True):
        response = client.get(f"/lens/{slug}/")
        assert response.status_code == 200
        assert response.content.count(b'<tr class="fam fam-') == 6


def test_the_map_lists_every_node_as_a_plain_link(client):
    html = client.get("/").content.decode()
    for slug in Node.objects.values_list("slug", flat=True):
        assert f'href="/node/{slug}/"' in html
    assert 'id="node-index"' in html and "<noscript>" in html


def test_the_map_search_works_without_javascript(client):
    html = client.get("/?q=score+matching").content.decode()
    assert "Nodes matching" in html and 'href="/node/score-matching/"' in html


def test_graph_json_is_node_link_data_with_facets_and_tours(client):
    response = client.get("/graph.json", follow=True)
    data = json.loads(response.content)
    assert len(data["nodes"]) == Node.objects.count()
    assert {"x", "y", "kind", "title", "families"} <= set(data["nodes"][0])
    assert data["facets"]["divergence"]["forward-kl"]
    tour = next(t for t in data["tours"] if t["slug"] == "circle-1-orientation")
    assert tour["steps"][0]["node"] and tour["steps"][0]["note"]


def test_graph_json_answers_304_to_its_etag(client):
    etag = client.get("/graph.json", follow=True)["ETag"]
    assert client.get("/graph.json", HTTP_IF_NONE_MATCH=etag, follow=True).status_code == 304


def test_bibtex_download_parses_back(client):
    paper = Paper.objects.get(key="ho2020ddpm")
    response = client.get("/papers/ho2020ddpm.bib", follow=True)
    assert response["Content-Type"].startswith("application/x-bibtex")
    assert 'filename="ho2020ddpm.bib"' in response["Content-Disposition"]
    entry = bibtexparser.loads(response.content.decode()).entries[0]
    assert entry["ID"] == "ho2020ddpm"
    assert entry["title"].strip("{}") == paper.title
    assert entry["year"] == str(paper.year)


def test_node_pages_link_their_papers_bibtex_and_show_the_run_panel(client):
    html = client.get("/node/diffusion/").content.decode()
    assert 'href="/papers/ho2020ddpm.bib"' in html
    assert 'id="live-demos"' in html and "Run it live" in html


def test_node_pages_group_typed_relations(client):
    html = client.get("/node/gan/").content.decode()
    for heading in ("Variants", "Suffers from", "Leads to"):
        assert f"<h3>{heading} " in html
    assert 'href="/node/wgan/"' in html


def test_the_lenses_table_has_families_as_rows(client):
    html = client.get("/lenses/").content.decode()
    assert html.count('<tr class="fam fam-') == 6
    assert 'href="/lens/divergence/"' in html


def test_pipelines_are_drawn_as_small_graphs(client):
    html = client.get("/pipelines/").content.decode()
    assert html.count('class="pipeline-diagram"') == 3
    assert 'href="/node/ar-transformer/"' in html


def test_related_explains_the_paths(client):
    html = client.get("/related/?from=diffusion&to=ebm").content.decode()
    assert 'class="path"' in html and "Path 1" in html and 'class="hop-text"' in html


def test_related_with_an_unknown_node_is_a_400(client):
    response = client.get("/related/?from=vae&to=no-such-node")
    assert response.status_code == 400
    assert b"No node is called no-such-node" in response.content


def test_related_accepts_a_node_title_as_typed_in_its_searchable_input(client):
    html = client.get("/related/?from=DDIM+—+Denoising+Diffusion+Implicit+Models&to=gan").content.decode()
    assert "Path 1" in html and 'list="related-nodes"' in html and "<select" not in html


def test_related_explains_a_unification_hop_with_its_claim_not_its_title(client):
    html = client.get("/related/?from=ddpm&to=vae").content.decode()
    first = html.split('class="path"')[1].split("</article>")[0]
    assert "Unifications" in first
    assert "adversarial loss" in first or "hierarchical VAE with" in first  # a claim, as HTML
    assert "<math" in html or "$" not in first  # the claim's math rendered, no raw LaTeX


def test_related_prefers_lineage_and_unifications_over_a_shared_failure_mode(client):
    # At equal hop costs the first path here runs through a failure mode both suffer from.
    html = client.get("/related/?from=flow-matching&to=wgan").content.decode()
    first = html.split('class="path"')[1].split("</article>")[0]
    assert "e-suffers_from" not in first and "e-unifies" in first


def test_pages_are_rendered_once_per_content_version(client, django_assert_max_num_queries):
    client.get("/node/gan/")
    client.get("/node/gan/card/")
    with django_assert_max_num_queries(3):  # the content hash, then the run panel's own queries
        assert client.get("/node/gan/").status_code == 200
    with django_assert_max_num_queries(1):
        assert client.get("/node/gan/card/").status_code == 200
    Node.objects.filter(slug="gan").update(title="Renamed GAN")
    assert b"Renamed GAN" not in client.get("/node/gan/").content
    ContentVersion.objects.filter(id=1).update(hash="reloaded")
    assert b"Renamed GAN" in client.get("/node/gan/").content
    assert b"Renamed GAN" in client.get("/node/gan/card/").content


def test_text_from_content_is_escaped(client):
    node = Node.objects.get(slug="vae")
    node.title = "<script>alert(1)</script>"
    node.save(update_fields=["title"])
    ContentVersion.objects.filter(id=1).update(hash="edited")  # what a content load does
    html = client.get("/node/vae/").content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
