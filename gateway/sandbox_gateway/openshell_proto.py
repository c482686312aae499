"""OpenShell's wire format, taken from the pinned ``openshell`` distribution: the only import of it.

The message and service definitions of ``openshell.v1.OpenShell`` are NVIDIA's generated
protobuf modules shipped in the ``openshell`` wheel (``openshell/_proto``), pinned in
pyproject.toml; nothing is re-typed here. Every other module of the gateway reaches them
through this one, so moving to another OpenShell release is one pin and one place to read.
``SERVICE`` is the service descriptor, from which the UNIMPLEMENTED answers are generated.
"""

from __future__ import annotations

from importlib.metadata import version

from openshell._proto import datamodel_pb2, openshell_pb2, openshell_pb2_grpc

OPENSHELL_VERSION = version("openshell")
SERVICE_NAME = "openshell.v1.OpenShell"
SERVICE = openshell_pb2.DESCRIPTOR.services_by_name["OpenShell"]

__all__ = [
    "OPENSHELL_VERSION",
    "SERVICE",
    "SERVICE_NAME",
    "datamodel_pb2",
    "openshell_pb2",
    "openshell_pb2_grpc",
]
