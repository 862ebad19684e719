"""The one error type of the content pipeline: a message tied to a file and a line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class CheckError:
    path: str  # as shown to people: `content/methods/ddpm.md`
    line: int  # 1-based; 0 when the error concerns the whole file or tree
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ContentError(Exception):
    """Raised by `load()` when the content does not pass the check; nothing was written."""

    def __init__(self, errors: list[CheckError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} content error(s):\n" + "\n".join(str(e) for e in errors[:50]))


@dataclass(frozen=True, order=True)
class CheckWarning:
    """Something a reviewer would flag that does not stop the content from loading."""

    path: str
    line: int
    code: str  # short and stable, for counting and filtering: `no-paper`, `thin-method`, ...
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: warning: {self.message} [{self.code}]"
