"""The connectivity matrix as an SVG heat map, for auditors: rows connect to columns.

Hand-written SVG, so the picture needs no plotting library and is byte-for-byte deterministic
(sorted input, fixed geometry, no timestamps or random ids). Colour says two things: green when
every connection in the cell is one the spec allows, red when any is not; the shade says how
open the cell is (a few ports, a range, all ports). Hovering a cell shows its ports.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

CELL = 22
CHAR = 7
GREENS = ("#c7e9c0", "#74c476", "#238b45")
REDS = ("#fcbba1", "#fb6a4a", "#cb181d")
EMPTY = "#f3f3f3"


def _shade(text: str) -> int:
    if text.startswith("all ports") or " any" in text:
        return 2
    if "-" in text or text.count(",") >= 2 or "pair(s)" in text:
        return 1
    return 0


def render_svg(
    names: list[str],
    cells: dict[tuple[str, str], str],
    expected: dict[tuple[str, str], bool],
    title: str = "Connectivity: rows open connections to columns",
) -> str:
    label_width = max([len(n) for n in names] + [10]) * CHAR + 12
    top = label_width  # room for the rotated column labels
    # Rotated column labels lean right by up to their own length.
    width = max(label_width + CELL * len(names) + label_width, 620, len(title) * (CHAR + 1) + 20)
    legend_y = top + CELL * len(names) + 24
    height = legend_y + 70
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
        f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for column, name in enumerate(names):
        x = label_width + column * CELL + CELL // 2
        out.append(
            f'<text x="{x}" y="{top - 6}" transform="rotate(-45 {x} {top - 6})">'
            f"{escape(name)}</text>"
        )
    for row, source in enumerate(names):
        y = top + row * CELL
        out.append(
            f'<text x="{label_width - 6}" y="{y + CELL - 7}" text-anchor="end">'
            f"{escape(source)}</text>"
        )
        for column, destination in enumerate(names):
            x = label_width + column * CELL
            text = cells.get((source, destination))
            if text is None:
                fill, tip = EMPTY, f"{source} -> {destination}: no connection"
            else:
                palette = GREENS if expected.get((source, destination), True) else REDS
                fill = palette[_shade(text)]
                verdict = "allowed by the spec" if palette is GREENS else "NOT allowed by the spec"
                tip = f"{source} -> {destination}: {text} ({verdict})"
            out.append(
                f'<rect x="{x}" y="{y}" width="{CELL - 1}" height="{CELL - 1}" fill="{fill}">'
                f"<title>{escape(tip)}</title></rect>"
            )
    legend = [
        (EMPTY, "no connection"),
        (GREENS[0], "allowed: some ports"),
        (GREENS[2], "allowed: all ports"),
        (REDS[0], "not allowed: some ports"),
        (REDS[2], "not allowed: all ports"),
    ]
    for position, (fill, label) in enumerate(legend):
        x = 4 + (position % 3) * 200
        y = legend_y + (position // 3) * 22
        out.append(f'<rect x="{x}" y="{y}" width="14" height="14" fill="{fill}" stroke="#999"/>')
        out.append(f'<text x="{x + 20}" y="{y + 12}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
