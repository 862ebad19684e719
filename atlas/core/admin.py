"""Admin building blocks shared by the apps: read-only model admins and inlines.

Nothing is registered here. Content changes only through pull requests and `manage.py content load`,
runs and their events only through `runs.services` and the workers, so their admins only show.
"""

from __future__ import annotations

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Operators may look, search and filter; nobody adds, changes or deletes these rows here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    """Child rows shown under their parent: every listed field read-only, none added or removed."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return list(self.fields or ())

    def has_add_permission(self, request, obj=None) -> bool:
        return False
