"""Turn a Verification into what people and machines read: a table, JSON, Markdown or HTML.

Pure text functions; the command decides where the text goes. The Markdown report links the
heat map as a sibling ``.svg`` file (Markdown cannot inline SVG portably); the HTML report
inlines it, so one file can be handed to an auditor. No timestamps: the same verification gives
the same bytes, so a report can be committed and diffed.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from tenantctl.verify.heatmap import render_svg
from tenantctl.verify.results import Result, Verification


def _status(result: Result) -> str:
    return "PASS" if result.ok else "FAIL"


def summary_line(verification: Verification) -> str:
    failures = sum(1 for r in verification.results if not r.ok)
    total = len(verification.results)
    verdict = "isolation verified" if not failures else "isolation NOT verified"
    return (
        f"{verdict}: {total} checks, {failures} failed ({verification.mode}, {verification.source})"
    )


def table(verification: Verification, *, verbose: bool = False, color: bool = False) -> str:
    """One block per tenant (platform first), one line per check; evidence under failures."""

    def paint(text: str, ok: bool) -> str:
        if not color:
            return text
        return f"\033[{'32' if ok else '31;1'}m{text}\033[0m"

    lines: list[str] = []
    width = max((len(r.check) for r in verification.results), default=10)
    ns_width = max((len(r.namespace or "-") for r in verification.results), default=1)
    by_tenant: dict[str, list[Result]] = {}
    for result in verification.results:  # grouped once: 10,000 namespaces give 165,000 results
        by_tenant.setdefault(result.tenant, []).append(result)
    for tenant in verification.tenants():
        found = by_tenant[tenant]
        failures = sum(1 for r in found if not r.ok)
        lines.append(f"tenant {tenant}: {len(found) - failures}/{len(found)} passed")
        for result in found:
            lines.append(
                f"  {paint(_status(result), result.ok)}  {result.check:<{width}}  "
                f"{(result.namespace or '-'):<{ns_width}}  {result.reason}"
            )
            if not result.ok or verbose:
                lines.extend(f"        {detail}" for detail in result.details)
        lines.append("")
    lines.append(summary_line(verification))
    return "\n".join(lines) + "\n"


def to_json(verification: Verification) -> str:
    document: dict[str, Any] = {
        "source": verification.source,
        "mode": verification.mode,
        "ok": verification.ok,
        "summary": {
            "checks": len(verification.results),
            "failed": sum(1 for r in verification.results if not r.ok),
        },
        "results": [r.to_json() for r in verification.results],
        "connectivity": {
            "note": verification.matrix_note,
            "namespaces": verification.matrix_namespaces,
            "cells": [
                {
                    "from": a,
                    "to": b,
                    "ports": text,
                    "allowed": verification.matrix_expected.get((a, b), True),
                }
                for (a, b), text in sorted(verification.matrix.items())
            ],
        },
        "external": verification.external,
        "permissions": verification.permissions,
    }
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def heatmap_svg(verification: Verification) -> str | None:
    if not verification.matrix_namespaces:
        return None
    return render_svg(
        verification.matrix_namespaces, verification.matrix, verification.matrix_expected
    )


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(verification: Verification, svg_name: str | None) -> str:
    out = [
        "# Tenant isolation report",
        "",
        f"Source: `{verification.source}` ({verification.mode} verification).",
        "",
        f"**{summary_line(verification)}**",
        "",
        "## Connectivity",
        "",
    ]
    if svg_name:
        out += [
            f"![Connectivity matrix ({verification.matrix_note})]({svg_name})",
            "",
            "Rows open connections to columns. Green: every connection in the cell is allowed "
            "by the spec; red: at least one is not. Darker: more ports.",
            "",
        ]
    else:
        out += [f"Matrix {verification.matrix_note}.", ""]
    for tenant in verification.tenants():
        out += [f"## {tenant}", "", "| status | check | namespace | reason |", "|---|---|---|---|"]
        for result in (r for r in verification.results if r.tenant == tenant):
            out.append(
                f"| {_status(result)} | `{result.check}` | {result.namespace or '-'} | "
                f"{_md_cell(result.reason)} |"
            )
        out.append("")
        for result in (r for r in verification.results if r.tenant == tenant and r.details):
            out.append(f"- `{result.check}` {result.namespace or ''}:")
            out += [f"  - {_md_cell(detail)}" for detail in result.details]
        if verification.permissions.get(tenant):
            out += ["", "Permissions granted to this tenant's identities:", ""]
            out += [f"- {_md_cell(line)}" for line in verification.permissions[tenant]]
        out.append("")
    if verification.external:
        out += ["## External connections", ""]
        for namespace, lines in sorted(verification.external.items()):
            out.append(f"- {namespace}")
            out += [f"  - {_md_cell(line)}" for line in lines]
        out.append("")
    return "\n".join(out)


def html(verification: Verification) -> str:
    svg = heatmap_svg(verification)
    rows = []
    for tenant in verification.tenants():
        rows.append(f"<h2>{escape(tenant)}</h2>")
        rows.append(
            "<table><tr><th>status</th><th>check</th><th>namespace</th><th>reason</th></tr>"
        )
        for result in (r for r in verification.results if r.tenant == tenant):
            details = "".join(f"<li>{escape(d)}</li>" for d in result.details)
            reason = escape(result.reason) + (f"<ul>{details}</ul>" if details else "")
            rows.append(
                f'<tr class="{"pass" if result.ok else "fail"}"><td>{_status(result)}</td>'
                f"<td><code>{escape(result.check)}</code></td>"
                f"<td>{escape(result.namespace or '-')}</td><td>{reason}</td></tr>"
            )
        rows.append("</table>")
        if verification.permissions.get(tenant):
            items = "".join(f"<li>{escape(x)}</li>" for x in verification.permissions[tenant])
            rows.append(f"<p>Permissions granted to this tenant's identities:</p><ul>{items}</ul>")
    external = "".join(
        f"<li>{escape(ns)}<ul>{''.join(f'<li>{escape(x)}</li>' for x in lines)}</ul></li>"
        for ns, lines in sorted(verification.external.items())
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8"><title>Tenant isolation report</title>',
            "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto}"
            "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:4px;"
            "vertical-align:top;text-align:left}tr.fail td:first-child{color:#b00;font-weight:bold}"
            "tr.pass td:first-child{color:#070}</style></head><body>",
            "<h1>Tenant isolation report</h1>",
            f"<p>Source: <code>{escape(verification.source)}</code> "
            f"({escape(verification.mode)} verification).</p>",
            f"<p><strong>{escape(summary_line(verification))}</strong></p>",
            "<h2>Connectivity</h2>",
            svg if svg else f"<p>Matrix {escape(verification.matrix_note)}.</p>",
            *rows,
            f"<h2>External connections</h2><ul>{external}</ul>" if external else "",
            "</body></html>",
            "",
        ]
    )
