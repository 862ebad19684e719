"""The code version of compute/: a hash of its source, part of every run's identity.

Two runs with the same recipe, config and seed are the same computation only if the code that
ran them is the same; hashing the sources (not a git revision) also works in a deployed image.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

COMPUTE_DIR = Path(__file__).resolve().parent


@functools.cache
def code_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(COMPUTE_DIR.rglob("*.py")):
        if "__pycache__" in path.parts or path.name == "tasks.py":  # the Django seam is not compute
            continue
        digest.update(path.relative_to(COMPUTE_DIR).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
