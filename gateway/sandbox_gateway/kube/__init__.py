"""The gateway's Kubernetes API client: credentials, HTTP requests, watch streams, errors.

Everything the gateway sends to the API server goes through ``client.KubeClient``, so the HTTP
library underneath (aiohttp) and the error mapping live in one place.
"""
