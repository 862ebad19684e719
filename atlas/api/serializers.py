"""Serializers shared by every app's API: a JSON object field and the 404 body.

Each app's own serializers live beside it (`atlas/<app>/serializers.py`). Every field is typed
and described (the descriptions are the OpenAPI schema's).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(serializers.JSONField):
    """A JSON object whose keys depend on the record (typed `object` in the schema)."""


# --- Errors ------------------------------------------------------------------------------------


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong.")
