"""Where the pinned external tools (kubeconform, helm, kubectl) and the schema folder are.

``tools/install`` builds them into the project's ``.tools/`` folder. An installed tenantctl finds
them through ``TENANTCTL_TOOLS_DIR``; inside a checkout it finds ``.tools/`` by walking up from the
working directory and from this package. A tool on ``PATH`` is the last resort.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

TOOLS_DIR_ENV = "TENANTCTL_TOOLS_DIR"
INSTALL_HINT = "run `tools/install kubeconform schemas` in the tenantctl checkout (or `make tools`)"


def tools_dirs() -> list[Path]:
    """``TENANTCTL_TOOLS_DIR`` alone when set; otherwise the nearest ``.tools/`` folders."""
    if os.environ.get(TOOLS_DIR_ENV):
        return [Path(os.environ[TOOLS_DIR_ENV])]
    found: list[Path] = []
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            candidate = folder / ".tools"
            if candidate.is_dir() and candidate not in found:
                found.append(candidate)
                break
    return found


def find_tool(*names: str) -> Path | None:
    """The first of ``names`` found, folder by folder: a tools folder's second choice wins over
    the first choice on ``PATH``."""
    for folder in tools_dirs():
        for name in names:
            candidate = folder / "bin" / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    for name in names:
        on_path = shutil.which(name)
        if on_path:
            return Path(on_path)
    return None


def find_schema_dir() -> Path | None:
    for folder in tools_dirs():
        candidate = folder / "schemas"
        if candidate.is_dir() and any(candidate.glob("*.json")):
            return candidate
    return None
