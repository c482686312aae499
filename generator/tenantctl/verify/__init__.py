"""``tenantctl verify``: prove tenant isolation from manifests, and on a live cluster.

Layers, in the order data flows:

    manifests   load objects from a folder, a spec (rendered in memory) or a live cluster
    expectations  what the spec (or, without one, the tenantctl conventions) says should be true
    ports, netpol   a pure NetworkPolicy semantics engine (label selectors: tenantctl.selectors)
    network, rbac, istio, quota  pure checks: objects + expectations -> results
    live        the Multi-Tenancy Benchmark checks run against an API server (the only I/O)
    report, heatmap  tables, JSON, Markdown/HTML and the SVG connectivity matrix
    actions     verify a spec, a folder or a cluster as library calls; write the reports
    command     the click command: arguments in, exit code out

Everything except ``live``, ``kubeclient``, ``actions`` and ``command`` is pure: same input,
same result.
"""
