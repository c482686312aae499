"""Problems found in a spec, located in its source file.

Every check reports a Problem instead of raising, so one run shows all mistakes at once. The
printed form is ``FILE:LINE:COL: path.to.field: message (hint)``, which editors and CI log viewers
turn into links.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    column: int
    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.path or '<document>'}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class SpecError(Exception):
    """Raised at the edge (loading) when a spec cannot be read at all; carries its problems."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
