"""Wizard tests run against the real content, loaded once for this package and removed afterwards
(the load is committed outside the test transactions, so other packages still see an empty db)."""

from __future__ import annotations

# Imported fixtures are registered in this conftest, so they apply to this package only.
from tests.atlas.fixtures import real_content, with_real_content  # noqa: F401
