"""YAML merge keys (``<<: *anchor``) in a spec: yaml-rs keeps them as ordinary keys, and
``spec.loading`` resolves them, so a spec that shares settings by anchors reads as written out.

Aspects: a merge key takes the anchored mapping's fields, and fields written beside it win.
"""

from __future__ import annotations

from pathlib import Path

from tenantctl.spec.reading import read_tenantset

from .texts import MINIMAL


def test_a_merge_key_takes_the_anchored_fields_and_the_written_ones_win(tmp_path: Path) -> None:
    spec = tmp_path / "tenants.yaml"
    spec.write_text(
        MINIMAL.replace(
            "        - name: alpha-dev\n",
            "        - &dev\n"
            "          name: alpha-dev\n"
            "          environment: dev\n"
            "          podSecurity: {enforce: baseline}\n"
            "        - <<: *dev\n"
            "          name: alpha-test\n",
        )
    )

    namespaces = read_tenantset(spec).tenants[0].namespaces

    assert [(ns.name, ns.environment, ns.pod_security.enforce) for ns in namespaces] == [
        ("alpha-dev", "dev", "baseline"),
        ("alpha-test", "dev", "baseline"),
    ]
