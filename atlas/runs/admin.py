"""Admin for runs: operators inspect runs and their events, and may cancel active runs.

Runs are written by `runs.services` and the workers (leases, heartbeats, conditional state
transitions), so their fields are read-only here; the writes are the `cancel` action, which goes
through `services.cancel` like the API does, promoting succeeded runs to the results board (or
removing them from it), and deleting a finished run.
"""

from __future__ import annotations

from django.contrib import admin, messages

from atlas.core.admin import ReadOnlyAdmin, ReadOnlyInline
from atlas.runs import services
from atlas.runs.models import ACTIVE_STATES, Run, RunEvent, RunStatus


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
        "on_board",
    ]
    list_filter = ["status", "on_board", "family", "recipe", "dataset", "queue"]
    search_fields = ["public_id", "recipe", "model", "config_hash", "client_key"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    inlines = [RunEventInline]
    actions = ["cancel_runs", "promote_to_board", "remove_from_board"]

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

    @admin.action(description="Promote the selected succeeded runs to the results board")
    def promote_to_board(self, request, queryset) -> None:
        promoted = queryset.filter(status=RunStatus.SUCCEEDED).update(on_board=True)
        self.message_user(request, f"{promoted} run(s) now count on the results board.", messages.SUCCESS)

    @admin.action(description="Remove the selected runs from the results board")
    def remove_from_board(self, request, queryset) -> None:
        removed = queryset.update(on_board=False)
        self.message_user(
            request, f"{removed} run(s) no longer count on the results board.", messages.SUCCESS
        )


@admin.register(RunEvent)
class RunEventAdmin(ReadOnlyAdmin):
    list_display = ["run", "at", "from_status", "to_status", "attempt", "reason"]
    list_filter = ["to_status"]
    search_fields = ["run__public_id", "reason"]
    list_select_related = ["run"]
