"""Field paths: tuples of keys and indexes, printed the way users write them.

``("spec", "tenants", 0, "name")`` prints as ``spec.tenants[0].name``. Keys that contain dots
(quota keys such as ``requests.cpu``) or other unusual characters are printed in brackets, so the
path stays unambiguous.
"""

from __future__ import annotations

import re

Path = tuple[str | int, ...]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def format_path(path: Path) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _BARE_KEY.match(part):
            text += f'["{part}"]'
        else:
            text += f".{part}" if text else part
    return text
