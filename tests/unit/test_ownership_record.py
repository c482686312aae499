"""The ownership record's text (OUTPUT/.tenantctl-generated.json) is exactly what
``json.dumps(record, indent=2)`` writes, whatever the paths: ``Manifest.text`` writes the file
entries itself for speed, and a committed record must never change bytes with that.

Aspects: any paths and digests, none at all, and non-ASCII, quotes, backslashes and control
characters in a path.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tenantctl.emit.ownership import MANIFEST_VERSION, Manifest


def _json_dumps_text(manifest: Manifest) -> str:
    body = {
        "generatedBy": "tenantctl",
        "version": MANIFEST_VERSION,
        "format": manifest.format,
        "files": dict(sorted(manifest.files.items())),
    }
    return json.dumps(body, indent=2, sort_keys=False) + "\n"


@settings(max_examples=300, deadline=None)
@given(
    output_format=st.sampled_from(["kustomize", "helm"]),
    files=st.dictionaries(st.text(), st.text(alphabet="0123456789abcdef", max_size=64)),
)
def test_the_record_text_is_json_dumps_with_indent_2(
    output_format: str, files: dict[str, str]
) -> None:
    manifest = Manifest(output_format, files)
    assert manifest.text() == _json_dumps_text(manifest)


def test_odd_paths_are_escaped_as_json_escapes_them() -> None:
    manifest = Manifest("kustomize", {'a "q"\\\u2028\x01/é.yaml': "0" * 64, "b.yaml": "f" * 64})
    assert manifest.text() == _json_dumps_text(manifest)
    assert json.loads(manifest.text())["files"] == manifest.files
