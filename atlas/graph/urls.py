"""Pages of the map: the map itself, node, lens, index, tour and path pages, graph JSON, BibTeX."""

from django.urls import path, re_path

from atlas.graph import views

app_name = "graph"
urlpatterns = [
    path("", views.home, name="home"),
    path("graph.json", views.graph_json, name="graph-json"),
    path("node/<slug:slug>/", views.node_detail, name="node"),
    path("node/<slug:slug>/card/", views.node_card, name="node-card"),
    path("lenses/", views.lens_index, name="lenses"),
    path("lens/<slug:slug>/", views.lens_detail, name="lens"),
    *(path(f"{page}/", views.kind_index, {"page": page}, name=page) for page in views.INDEX_PAGES),
    path("reading/", views.reading, name="reading"),
    path("tours/<slug:slug>/", views.tour_detail, name="tour"),
    path("related/", views.related, name="related"),
    re_path(r"^papers/(?P<key>[A-Za-z0-9_.:-]+)\.bib$", views.paper_bib, name="paper-bib"),
]
