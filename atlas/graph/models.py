"""The knowledge graph loaded from `content/`: nodes, typed edges, citations and lens values.

Every row here is written only by `manage.py content load` (atlas/content/loader.py), in one
transaction, and identified by a natural key (slug; source, target, kind; ...), so reloading the
same content changes nothing. Read-side code (map, API, wizard, results board) can query these
tables freely; cache anything derived from them under `ContentVersion.current_hash()`.

Where things live:
- Columns hold what every kind has (title, summary, body, equation, aliases, figures, families).
- `Node.data` holds the kind-specific keys of the record exactly as validated (see
  content/SCHEMA.md), plus `<key>_html` siblings with the rendered, sanitized HTML of every
  Markdown-bearing field (e.g. `statement_html`, `assumptions_html` [list], `fixes[i].text_html`,
  `summary_html`, `symbol_html` for a glossary symbol as MathML).
- The decision guide is a Node of kind `guide` (slug `decision-guide`) whose `data` holds
  `root`, `questions` and `leaves` (with `text_html`, `help_html`, `why_html`); each leaf's
  `recommends` also becomes a `recommends` edge from the guide node.
- Lens/axis values live in `LensValue` (one row per lens × family, plus one per variant), not in
  `data`; citations (`papers:`) live in `NodePaper`, not in `Edge`.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.urls import reverse


class NodeKind(models.TextChoices):
    FAMILY = "family"
    METHOD = "method"
    LENS = "lens"
    AXIS = "axis"
    UNIFICATION = "unification"
    FAILURE_MODE = "failure-mode"
    OPEN_PROBLEM = "open-problem"
    RESEARCH_DIRECTION = "research-direction"
    CONFUSION = "confusion"
    TREND = "trend"
    PIPELINE = "pipeline"
    GLOSSARY = "glossary"
    ESSAY = "essay"
    TOUR = "tour"
    GUIDE = "guide"


class EdgeKind(models.TextChoices):
    LINEAGE = "lineage"
    UNIFIES = "unifies"
    VARIANT_OF = "variant_of"
    COMPONENT_OF = "component_of"
    FIXES = "fixes"
    SUFFERS_FROM = "suffers_from"
    CITES = "cites"
    RECOMMENDS = "recommends"
    RELATED = "related"


class EdgeStyle(models.TextChoices):
    SOLID = "solid"
    DOTTED = "dotted"


class Node(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=24, choices=NodeKind.choices)
    title = models.CharField(max_length=300)
    summary = models.TextField()  # plain text (Markdown source); rendered in data["summary_html"]
    body_md = models.TextField(blank=True)
    body_html = models.TextField(blank=True)  # sanitized at load time
    data = models.JSONField(default=dict, blank=True)  # kind-specific keys + `<key>_html` siblings
    families = models.JSONField(default=list, blank=True)  # family slugs, for the map's filter
    equation = models.TextField(blank=True)  # LaTeX source
    equation_html = models.TextField(blank=True)  # display MathML
    aliases = models.JSONField(default=list, blank=True)
    figures = models.JSONField(default=list, blank=True)  # [{value, what, what_html, paper?}]
    order = models.IntegerField(default=0)  # `order` or `number` of the record, else 0
    source_path = models.CharField(max_length=300)  # relative to content/
    search_text = models.TextField(blank=True)  # lowercased slug, title, aliases, summary, body
    papers = models.ManyToManyField(
        "atlas_papers.Paper", through="NodePaper", related_name="nodes", blank=True
    )

    class Meta:
        ordering = ["kind", "order", "slug"]
        indexes = [models.Index(fields=["kind", "order"], name="node_kind_order")]

    def __str__(self) -> str:
        return self.slug

    def get_absolute_url(self) -> str:
        return reverse("graph:node", args=[self.slug])


class NodePaper(models.Model):
    """A `cites` relation: the node's `papers:` list, in the order written."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="citations")
    paper = models.ForeignKey("atlas_papers.Paper", on_delete=models.CASCADE, related_name="citations")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["node", "position"]
        constraints = [models.UniqueConstraint(fields=["node", "paper"], name="nodepaper_unique")]

    def __str__(self) -> str:
        return f"{self.node_id} cites {self.paper_id}"


class Edge(models.Model):
    """A typed, directed edge. `origin` says which field of the source record produced it."""

    source = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="out_edges")
    target = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="in_edges")
    kind = models.CharField(max_length=16, choices=EdgeKind.choices)
    text = models.CharField(max_length=500, blank=True)
    style = models.CharField(max_length=8, choices=EdgeStyle.choices, default=EdgeStyle.SOLID)
    # edges | parent | connects | affects | fixes | related | components | guide
    origin = models.CharField(max_length=16)

    class Meta:
        ordering = ["source", "kind", "target"]
        constraints = [models.UniqueConstraint(fields=["source", "target", "kind"], name="edge_unique")]
        indexes = [models.Index(fields=["kind"], name="edge_kind")]

    def __str__(self) -> str:
        return f"{self.source_id} -{self.kind}-> {self.target_id}"


class LensValue(models.Model):
    """The value of one lens (or comparison axis) for one family; `variant` set for the
    variant rows (e.g. GAN vanilla vs WGAN), null for the family's main value."""

    lens = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="lens_values")
    family = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="family_lens_values")
    # NULL (not "") marks the main value, so the two partial unique constraints below can tell them apart.
    variant = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    text = models.TextField()
    text_html = models.TextField()
    facets = models.JSONField(default=list, blank=True)  # kebab-case tags for the map's lens filter
    order = models.PositiveSmallIntegerField(default=0)  # position of the variant in the record
    papers = models.ManyToManyField("atlas_papers.Paper", related_name="lens_values", blank=True)

    class Meta:
        ordering = ["lens", "family", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["lens", "family"], condition=Q(variant__isnull=True), name="lensvalue_main_unique"
            ),
            models.UniqueConstraint(
                fields=["lens", "family", "variant"],
                condition=Q(variant__isnull=False),
                name="lensvalue_variant_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lens_id}/{self.family_id}/{self.variant or '-'}"


class ContentVersion(models.Model):
    """One row (id 1): the hash of the loaded content tree, for cache keys and ETags."""

    hash = models.CharField(max_length=64)
    files = models.PositiveIntegerField(default=0)
    loaded_at = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="contentversion_single_row")]

    def __str__(self) -> str:
        return self.hash[:12]

    @classmethod
    def current_hash(cls) -> str:
        """The hash of the loaded content, or "" when nothing was loaded yet."""
        return cls.objects.filter(id=1).values_list("hash", flat=True).first() or ""
