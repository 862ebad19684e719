"""Papers: the resources behind the atlas's claims, loaded from `content/papers/<key>.yaml`.

Rows are written only by `manage.py content load` (see atlas/content/loader.py); nothing else
should create or edit them, because the next load would overwrite the change.
"""

from __future__ import annotations

from django.db import models


class Paper(models.Model):
    key = models.CharField(max_length=100, unique=True)  # the file stem, e.g. `ho2020ddpm`
    title = models.TextField()
    authors = models.JSONField(default=list)  # ["Surname, Given", ..., optionally "others"]
    year = models.PositiveSmallIntegerField(db_index=True)
    venue = models.CharField(max_length=300, blank=True)
    arxiv = models.CharField(max_length=40, blank=True, db_index=True)  # e.g. `2006.11239`
    doi = models.CharField(max_length=200, blank=True)
    url = models.URLField(max_length=500, blank=True)
    note = models.TextField(blank=True)
    source_path = models.CharField(max_length=300)  # relative to content/, e.g. `papers/ho2020ddpm.yaml`

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key}: {self.title}"

    @property
    def arxiv_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else ""

    @property
    def doi_url(self) -> str:
        return f"https://doi.org/{self.doi}" if self.doi else ""

    @property
    def link(self) -> str:
        """The best link to read the paper: its URL, else the DOI, else arXiv."""
        return self.url or self.doi_url or self.arxiv_url

    def bibtex(self) -> str:
        from atlas.papers.bibtex import paper_to_bibtex

        return paper_to_bibtex(self)
