"""Admin for runs: operators inspect runs and their events, and may cancel active runs.

Runs are written by `runs.services` and the workers (leases, heartbeats, conditional state
transitions), so their fields are read-only here; the writes are the `cancel` action, which goes
through `services.cancel` like the API does, and deleting a finished run.
"""

from __future__ import annotations

from django.contrib import admin, messages

from atlas.core.admin import ReadOnlyAdmin, ReadOnlyInline
from atlas.runs import services
from atlas.runs.models import ACTIVE_STATES, Run, RunEvent


class RunEventInline(ReadOnlyInline):
    model = RunEvent
    fields = ["at", "from_status", "to_status", "reason", "attempt"]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "recipe",
        "family",
        "dataset",
        "status",
        "created_at",
        "finished_at",
        "attempts",
    ]
    list_filter = ["status", "family", "recipe", "dataset", "queue"]
    search_fields = ["public_id", "recipe", "model", "config_hash", "client_key"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    inlines = [RunEventInline]
    actions = ["cancel_runs"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in Run._meta.fields]

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # runs are created through POST /api/runs/ (validation, dedup, caps)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Only finished runs may be deleted (one at a time): an active one is held by a worker.
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_terminal)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Cancel the selected queued or running runs")
    def cancel_runs(self, request, queryset) -> None:
        active = list(queryset.filter(status__in=ACTIVE_STATES))
        for run in active:
            services.cancel(run)
        self.message_user(request, f"Cancel requested for {len(active)} run(s).", messages.SUCCESS)


@admin.register(RunEvent)
class RunEventAdmin(ReadOnlyAdmin):
    list_display = ["run", "at", "from_status", "to_status", "attempt", "reason"]
    list_filter = ["to_status"]
    search_fields = ["run__public_id", "reason"]
    list_select_related = ["run"]
