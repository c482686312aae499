"""The gateway's view of sandboxes: list-then-watch through disconnects, 410 Gone and restarts.

Covers: a broken watch resumes from its resourceVersion and sees what changed meanwhile without
listing again; a 410 Gone leads to a fresh list that drops what was deleted meanwhile, and watch
stream subscribers are told exactly that; bookmarks keep the resume point fresh; /readyz waits
for the initial list; a namespace that gains the label brings its existing sandboxes into view;
each namespace mode runs the watches it promises; a restarted gateway rebuilds the same view.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fake_kube import FakeKube
from gateway_testing import ALICE, eventually, sandbox_body, wait_until_ready

pytestmark = pytest.mark.asyncio

SANDBOX_COLLECTION = r"^/apis/agents\.x-k8s\.io/v1beta1(/namespaces/[^/]+)?/sandboxes$"


def sandbox_lists(kube: FakeKube) -> list[str]:
    return [r.path for r in kube.sent("GET", SANDBOX_COLLECTION) if "watch" not in r.query]


def sandbox_watches(kube: FakeKube) -> list[str]:
    return [r.path for r in kube.sent("GET", SANDBOX_COLLECTION) if "watch" in r.query]


async def names(gateway: Any, namespace: str = "alpha-dev") -> list[str] | None:
    response = await gateway.get(f"/v1/namespaces/{namespace}/sandboxes", headers=ALICE)
    if response.status != 200:
        return None
    return [item["metadata"]["name"] for item in (await response.json())["items"]]


async def test_a_broken_watch_resumes_and_sees_what_changed_without_listing_again(
    start_gateway, kube: FakeKube
) -> None:
    kube.put_sandbox("alpha-dev", "old")
    gateway = await start_gateway()
    await eventually(lambda: len(sandbox_watches(kube)) == 1)
    kube.break_watches()
    kube.remove_sandbox("alpha-dev", "old")
    kube.put_sandbox("alpha-dev", "new")

    assert await eventually(lambda: _equals(names(gateway), ["new"]))
    assert len(sandbox_lists(kube)) == 1
    resumed = [r for r in kube.sent("GET", SANDBOX_COLLECTION) if "watch" in r.query][-1]
    assert resumed.query["allowWatchBookmarks"] == "true"
    assert int(resumed.query["resourceVersion"]) > 0


async def test_after_410_gone_it_lists_again_and_drops_what_was_deleted_meanwhile(
    start_gateway, kube: FakeKube
) -> None:
    kube.put_sandbox("alpha-dev", "old")
    gateway = await start_gateway()
    await eventually(lambda: len(sandbox_watches(kube)) == 1)
    kube.break_watches()
    kube.remove_sandbox("alpha-dev", "old")
    kube.put_sandbox("alpha-dev", "new")
    kube.compact()

    assert await eventually(lambda: _equals(names(gateway), ["new"]))
    assert len(sandbox_lists(kube)) == 2
    metrics = await (await gateway.get("/metrics")).text()
    assert 'sandbox_gateway_watch_restarts_total{reason="gone"} 1.0' in metrics


async def test_a_watch_stream_is_told_exactly_what_changed_across_a_relist(
    start_gateway, kube: FakeKube
) -> None:
    kube.put_sandbox("alpha-dev", "old")
    kube.put_sandbox("alpha-dev", "kept")
    gateway = await start_gateway()
    stream = await gateway.get("/v1/watch/namespaces/alpha-dev/sandboxes", headers=ALICE)
    assert stream.headers["Content-Type"] == "application/x-ndjson"
    initial = [await _event(stream) for _ in range(3)]
    assert [(e["type"], e["object"].get("metadata", {}).get("name")) for e in initial] == [
        ("ADDED", "kept"),
        ("ADDED", "old"),
        ("SYNCED", None),
    ]
    kube.break_watches()
    kube.remove_sandbox("alpha-dev", "old")
    kube.put_sandbox("alpha-dev", "new")
    kube.compact()
    changes = {
        (e["type"], e["object"]["metadata"]["name"])
        for e in [await _event(stream), await _event(stream)]
    }
    assert changes == {("DELETED", "old"), ("ADDED", "new")}
    stream.close()


async def test_bookmarks_keep_the_resume_point_fresh_so_no_relist_is_needed(
    start_gateway, kube: FakeKube
) -> None:
    kube.put_sandbox("alpha-dev", "s1")
    gateway = await start_gateway()
    await eventually(lambda: len(sandbox_watches(kube)) == 1)
    for index in range(3):  # other objects change: the global resourceVersion moves on
        kube.add_namespace(f"other-{index}", labelled=False)
    kube.bookmark()
    await eventually(lambda: _bookmarked(gateway, kube.rv))
    kube.break_watches()
    kube.compact()  # only history before the bookmark is gone
    kube.put_sandbox("alpha-dev", "s2")
    assert await eventually(lambda: _equals(names(gateway), ["s1", "s2"]))
    assert len(sandbox_lists(kube)) == 1


async def test_not_ready_until_the_initial_sandbox_list_succeeds(
    start_gateway, kube: FakeKube
) -> None:
    kube.fail_next("GET", SANDBOX_COLLECTION, 403, "Forbidden", times=10_000)
    gateway = await start_gateway(ready=False)
    await eventually(lambda: len(kube.sent("GET", SANDBOX_COLLECTION)) >= 2)
    response = await gateway.get("/readyz")
    assert response.status == 503
    assert "sandboxes not listed yet" in await response.text()
    kube.failures.clear()
    await wait_until_ready(gateway)


async def test_a_namespace_that_gains_the_label_brings_its_sandboxes_into_view(
    start_gateway, kube: FakeKube
) -> None:
    kube.put_sandbox("default", "was-outside")
    kube.grant("group:alpha-admins", "default", "list")
    gateway = await start_gateway()
    assert (await gateway.get("/v1/namespaces/default/sandboxes", headers=ALICE)).status == 403
    kube.relabel_namespace("default", labelled=True)
    assert await eventually(lambda: _equals(names(gateway, "default"), ["was-outside"]))


async def test_selector_mode_runs_one_cluster_wide_watch(start_gateway, kube: FakeKube) -> None:
    await start_gateway()
    await eventually(lambda: sandbox_watches(kube))
    assert sandbox_watches(kube) == ["/apis/agents.x-k8s.io/v1beta1/sandboxes"]
    [namespace_watch] = [r for r in kube.sent("GET", r"^/api/v1/namespaces$") if "watch" in r.query]
    assert namespace_watch.query["labelSelector"] == "tenantctl.dev/tenant-namespace=true"


async def test_watch_namespaces_mode_runs_one_namespaced_watch_each_and_lists_no_namespaces(
    start_gateway, kube: FakeKube
) -> None:
    kube.put_sandbox("alpha-dev", "a1")
    kube.put_sandbox("alpha-prod", "not-served")
    gateway = await start_gateway("--watch-namespaces", "alpha-dev,beta-dev")
    await eventually(lambda: len(sandbox_watches(kube)) == 2)
    assert sorted(sandbox_watches(kube)) == [
        "/apis/agents.x-k8s.io/v1beta1/namespaces/alpha-dev/sandboxes",
        "/apis/agents.x-k8s.io/v1beta1/namespaces/beta-dev/sandboxes",
    ]
    assert kube.sent("GET", r"^/api/v1/namespaces$") == []
    listed = await (await gateway.get("/v1/sandboxes", headers=ALICE)).json()
    assert [s["metadata"]["name"] for s in listed["items"]] == ["a1"]


async def test_a_restarted_gateway_rebuilds_the_same_view_without_duplicates(
    start_gateway, kube: FakeKube
) -> None:
    first = await start_gateway()
    for name in ("s1", "s2", "s3"):
        await first.post("/v1/sandboxes", json=sandbox_body(name, "alpha-dev"), headers=ALICE)
    await eventually(lambda: _equals(names(first), ["s1", "s2", "s3"]))
    await first.close()
    second = await start_gateway()
    items = (await (await second.get("/v1/sandboxes", headers=ALICE)).json())["items"]
    assert sorted(s["metadata"]["name"] for s in items) == ["s1", "s2", "s3"]
    assert len({s["metadata"]["uid"] for s in items}) == 3


async def test_a_watch_stream_ends_with_an_error_when_its_namespace_is_revoked(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    stream = await gateway.get("/v1/watch/namespaces/alpha-prod/sandboxes", headers=ALICE)
    assert (await _event(stream))["type"] == "SYNCED"
    kube.relabel_namespace("alpha-prod", labelled=False)
    ended = await _event(stream)
    assert ended["type"] == "ERROR"
    assert ended["object"]["message"] == "namespace alpha-prod is no longer served"


async def _event(stream: Any) -> dict[str, Any]:
    line = await stream.content.readline()
    assert line, "the stream ended"
    return json.loads(line)


async def _equals(awaitable: Any, expected: Any) -> bool:
    return await awaitable == expected


def _bookmarked(gateway: Any, rv: int) -> bool:
    from sandbox_gateway.api import GATEWAY

    [reflector] = gateway.app[GATEWAY].tracker.reflectors
    return reflector.resource_version == str(rv)
