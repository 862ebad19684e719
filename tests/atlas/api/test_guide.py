"""The decision guide: atlas.guide.services.walk and /api/guide/ + /api/guide/answer/."""

from __future__ import annotations

import pytest

from atlas.guide import services as guide
from tests.atlas.api.conftest import get_json


def test_no_answers_is_the_root_question():
    state = guide.walk([])
    assert state.question is not None and state.question.id == "goal" and not state.done
    assert [a.id for a in state.question.answers] == ["likelihood", "modality", "pretrained", "joint-ebm"]
    assert state.path == [] and state.reasons == []


def test_ids_indices_and_prefixed_answers_lead_to_the_same_leaf():
    by_id = guide.walk(["likelihood", "exact-likelihood"])
    by_index = guide.walk(["0", "0"])
    prefixed = guide.walk(["goal:likelihood", "likelihood:0"])
    for state in (by_id, by_index, prefixed):
        assert state.done and state.leaf.id == "exact-likelihood"
        assert state.answers == ["goal:likelihood", "likelihood:exact-likelihood"]
    assert [n.slug for n in by_id.recommends] == ["realnvp", "nice", "nsf", "autoregressive", "made"]
    assert [n.slug for n in by_id.watch_out] == ["ood-likelihood", "likelihood-vs-quality"]
    assert by_id.reasons[-1] == by_id.leaf.why and len(by_id.reasons) == 3
    assert "What is the primary goal?" in by_id.reasons[0]


def test_a_leaf_right_after_the_root():
    state = guide.walk(["joint-ebm"])
    assert state.done and [n.slug for n in state.recommends] == ["jem", "ebm"]


def test_duplicate_targets_get_numbered_ids():
    assert guide.answer_ids([{"leaf": "a"}, {"next": "b"}, {"leaf": "a"}]) == ["a", "b", "a-2"]


@pytest.mark.parametrize(
    ("answers", "position", "fragment"),
    [
        (["nope"], 0, "not an answer"),
        (["9"], 0, "not an answer"),
        (["-1"], 0, "not an answer"),
        (["modality:text"], 0, "answers question 'modality'"),
        (["modality", "text", "0"], 2, "already reached"),
        (["modality", ""], 1, "empty"),
        (["x" * 500], 0, "too long"),
    ],
)
def test_invalid_answers_raise_a_typed_error(answers, position, fragment):
    with pytest.raises(guide.InvalidAnswer) as caught:
        guide.walk(answers)
    assert caught.value.position == position and fragment in caught.value.message


def test_the_tree_endpoint(api):
    body = get_json(api, "/api/guide/")
    assert body["root"] == "goal" and body["slug"] == "decision-guide"
    assert {q["id"] for q in body["questions"]} == {"goal", "likelihood", "modality", "pretrained"}
    assert len(body["leaves"]) == 10
    goal = next(q for q in body["questions"] if q["id"] == "goal")
    assert [a["index"] for a in goal["answers"]] == [0, 1, 2, 3]


def test_the_answer_endpoint_walks_to_a_recommendation_with_its_reasons(api):
    body = get_json(api, "/api/guide/answer/?answers=goal:modality,modality:text")
    assert body["done"] is True and body["question"] is None
    assert body["leaf"]["id"] == "text" and body["answers"] == ["goal:modality", "modality:text"]
    assert [p["question"] for p in body["path"]] == ["goal", "modality"]
    assert body["recommends"][0]["slug"] == "ar-transformer" and body["recommends"][0]["url"]
    assert body["reasons"][-1] == body["leaf"]["why"]
    first = get_json(api, "/api/guide/answer/")
    assert first["done"] is False and first["question"]["id"] == "goal" and first["path"] == []


@pytest.mark.parametrize(
    "query",
    [
        "answers=goal:nope",
        "answers=modality,,text",
        "answers=1,2,3,4",
        "answers=goal:1&answers=x",
        "answer=0",
    ],
)
def test_the_answer_endpoint_answers_400_for_invalid_answers(api, query):
    body = get_json(api, f"/api/guide/answer/?{query}", status=400)
    assert set(body) <= {"answers", "answer"} and body


def test_a_missing_guide_is_404(api):
    from atlas.graph.models import Node

    Node.objects.filter(kind="guide").delete()
    guide._cache.clear()
    assert api.get("/api/guide/").status_code == 404
    assert api.get("/api/guide/answer/?answers=0").status_code == 404
    with pytest.raises(guide.GuideMissing):
        guide.walk([])
