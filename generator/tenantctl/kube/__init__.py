"""tenantctl's one client for the Kubernetes API server, used by the CLI, verify, the gateway
and the test harness alike.

``config.load`` finds a ``connections.Connection`` as kubectl would (``kubeconfigs``:
kubeconfig files and kubectl's merge rules; ``incluster``: a pod's ServiceAccount);
``credentials`` and ``execplugin`` supply the credential each request carries (token files
that rotate, exec plugins); ``tls`` builds TLS contexts with client keys loaded from memory;
``client.Client`` sends requests and watches; ``reflecting`` keeps a collection in step with
list-then-watch; ``discovery`` maps kinds to URLs. Every failure comes out as a
``errors.KubeError``, so callers deal with one error hierarchy and the HTTP library underneath
(aiohttp) stays replaceable. docs/cluster-access.md describes the behaviour for users.
"""
