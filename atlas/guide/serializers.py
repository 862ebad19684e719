"""Serializers of the decision guide's API: the whole tree, and the state of a walk through it.

Every field is typed and described (the descriptions are the OpenAPI schema's), and both answers
are produced by them.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from atlas.graph.serializers import NodeRefSerializer, node_api_url


class GuideAnswerOptionSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Stable id: the id of the question or leaf the answer leads to.")
    index = serializers.IntegerField(help_text="0-based position among the question's answers.")
    label = serializers.CharField(help_text="The answer as shown.")
    next = serializers.CharField(allow_null=True, help_text="Id of the next question, or null.")
    leaf = serializers.CharField(allow_null=True, help_text="Id of the recommendation reached, or null.")


class GuideQuestionSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Stable id of the question.")
    text = serializers.CharField(help_text="The question, as Markdown.")
    text_html = serializers.CharField(help_text="The question rendered to sanitized HTML.")
    help = serializers.CharField(allow_blank=True, help_text="Help text, as Markdown; may be empty.")
    help_html = serializers.CharField(
        allow_blank=True, help_text="Help text as sanitized HTML; may be empty."
    )
    answers = GuideAnswerOptionSerializer(many=True, help_text="The possible answers, in order.")


class GuideLeafSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Stable id of the recommendation.")
    title = serializers.CharField(help_text="The recommendation in a few words.")
    why = serializers.CharField(help_text="The reasoning, as Markdown.")
    why_html = serializers.CharField(help_text="The reasoning rendered to sanitized HTML.")
    recommends = serializers.ListField(
        child=serializers.CharField(), help_text="Slugs of the recommended nodes."
    )
    watch_out = serializers.ListField(
        child=serializers.CharField(), help_text="Slugs of failure modes to watch."
    )
    recipe = serializers.CharField(allow_null=True, help_text="The recipe the content suggests, if any.")


class GuideTreeSerializer(serializers.Serializer):
    slug = serializers.CharField(help_text="Slug of the guide node.")
    title = serializers.CharField(help_text="Title of the guide.")
    summary = serializers.CharField(help_text="One sentence, as Markdown.")
    summary_html = serializers.CharField(help_text="`summary` rendered to sanitized HTML.")
    root = serializers.CharField(help_text="Id of the first question.")
    questions = serializers.SerializerMethodField(help_text="Every question of the tree.")
    leaves = serializers.SerializerMethodField(help_text="Every recommendation of the tree.")

    @extend_schema_field(GuideQuestionSerializer(many=True))
    def get_questions(self, tree) -> list[dict[str, Any]]:
        return GuideQuestionSerializer(list(tree.questions.values()), many=True).data

    @extend_schema_field(GuideLeafSerializer(many=True))
    def get_leaves(self, tree) -> list[dict[str, Any]]:
        return GuideLeafSerializer(list(tree.leaves.values()), many=True).data


class GuideStepSerializer(serializers.Serializer):
    question = serializers.CharField(source="question.id", help_text="Id of the question answered.")
    question_text = serializers.CharField(source="question.text", help_text="The question.")
    answer = serializers.CharField(source="answer.id", help_text="Stable id of the answer given.")
    index = serializers.IntegerField(source="answer.index", help_text="0-based index of the answer given.")
    label = serializers.CharField(source="answer.label", help_text="The answer given, as shown.")


class GuideNodeSerializer(NodeRefSerializer):
    summary = serializers.CharField(help_text="One sentence, as Markdown.")
    url = serializers.SerializerMethodField(help_text="The node in the API.")

    def get_url(self, ref) -> str:
        return node_api_url(ref.slug)


class GuideStateSerializer(serializers.Serializer):
    done = serializers.BooleanField(help_text="True when a recommendation was reached.")
    answers = serializers.ListField(
        child=serializers.CharField(),
        help_text="The answers so far in canonical form (`question:answer-id`), to build links.",
    )
    path = GuideStepSerializer(many=True, help_text="The questions answered so far, in order.")
    question = GuideQuestionSerializer(allow_null=True, help_text="The next question; null when done.")
    leaf = GuideLeafSerializer(allow_null=True, help_text="The recommendation; null until reached.")
    recommends = GuideNodeSerializer(many=True, help_text="The recommended nodes (empty until done).")
    watch_out = GuideNodeSerializer(many=True, help_text="Failure modes to watch (empty until done).")
    recipes = serializers.ListField(
        child=serializers.CharField(),
        help_text="Runnable recipes for the recommendation (slugs; `Try it live`).",
    )
    reasons = serializers.ListField(
        child=serializers.CharField(),
        help_text="The reasoning: each question with the answer given, then why the recommendation fits.",
    )
