"""Field paths: tuples of keys and indexes, printed the way users write them.

``("spec", "tenants", 0, "name")`` prints as ``spec.tenants[0].name``. Keys that contain dots
(quota keys such as ``requests.cpu``) are printed in brackets so the path stays unambiguous.
"""

from __future__ import annotations

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "." in part or "/" in part:
            text += f'["{part}"]'
        else:
            text += f".{part}" if text else part
    return text
