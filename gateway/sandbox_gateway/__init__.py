"""The sandbox gateway: creates agent Sandboxes in the tenant namespace a caller asks for.

A caller sends a Sandbox-shaped body naming ``metadata.namespace``; the gateway authenticates the
bearer token (TokenReview), authorises the caller in that namespace (SubjectAccessReview on the
virtual resource ``sandboxes.gateway.tenantctl.dev``, granted by the RBAC tenantctl generates),
refuses namespaces that are not tenant namespaces, and creates the Sandbox CR there under its own
least-privilege identity. The same steps serve OpenShell's gRPC API, where a workspace is a
namespace. Every API-server call goes through ``tenantctl.kube``. Module map (layers:
auth/namespaces/tracking/sandboxes <- operations <- api, grpc_api):

    config, cli       flags and the process entry point
    auth              TokenReview and SubjectAccessReview, with a short TTL cache
    namespaces        which namespaces are tenant namespaces (three serving modes)
    tracking          list-then-watch of Sandbox CRs into an index by namespace/name/uid
    sandboxes         request validation and building the Sandbox CR (pure)
    operations        the lifecycle steps both APIs take (auth, create, get, delete, stop/start)
    phases            a Sandbox CR's OpenShell phase (pure)
    api, openapi      the HTTP routes under /v1 and their OpenAPI document
    openshell_proto   the only import of OpenShell's generated protobuf modules (pinned wheel)
    grpc_mapping      OpenShell messages <-> the request model and Sandbox CRs (pure)
    grpc_api          OpenShell's gRPC API (openshell.v1.OpenShell) on grpcio's asyncio server
    metrics           Prometheus metrics
    server            wiring: start the watches, serve, stop
"""
