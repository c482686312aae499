"""tenantctl's client for the Kubernetes API server: kubeconfig, TLS, discovery, HTTP.

Every request tenantctl makes to a cluster goes through ``kube.client.Client``, and every failure
comes out as a ``kube.errors.KubeError``, so the commands deal with one error hierarchy and the
HTTP library underneath (aiohttp) stays replaceable.
"""
