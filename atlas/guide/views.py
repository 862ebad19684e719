"""The decision-guide wizard: parse the answers in the URL, walk the tree, render one page.

Works without JavaScript: every answer option, "back", "restart" and each step of the path so far
are plain GET links, and the URL (`/guide/?a=goal:likelihood,likelihood:exact-likelihood`) is the
whole state, so a result can be shared and reloaded.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET

from atlas.guide import services, wizard


@require_GET
def wizard_page(request: HttpRequest) -> HttpResponse:
    raw = request.GET.get("a")
    try:
        answers = wizard.parse_query(raw)
        page = wizard.build(answers)
    except services.GuideMissing as exc:
        return render(request, "guide/unavailable.html", {"message": str(exc)}, status=503)
    except wizard.WizardInputError as exc:
        page = wizard.build([])
        page.error = f"{exc}. Start again from the first question."
        return render(request, "guide/wizard.html", _context(page), status=400)
    if page.error:
        return render(request, "guide/wizard.html", _context(page), status=400)
    if answers != page.answers:
        # Indices or bare ids (`?a=0,1`) → the canonical, readable share URL of the same state.
        return HttpResponseRedirect(page.share_url)
    return render(request, "guide/wizard.html", _context(page))


def _context(page: wizard.Page) -> dict:
    return {
        "page": page,
        "tree": page.tree,
        "state": page.state,
        "summary": wizard.tree_summary(page.tree),
        "recipes": [page.recipe] if page.recipe else [],
    }
