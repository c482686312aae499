"""A small fleet spec for the fleet tests, written so each test changes only what it is about."""

from __future__ import annotations

FLEET = """\
apiVersion: tenantctl.dev/v1alpha1
kind: TenantSet
metadata: {name: fleet}
spec:
  platform:
    gateway: {id: fleet}
  clusters:
    - name: eu
      labels: {topology.kubernetes.io/region: eu-west-1}
      context: ctx-eu
    - name: us
      labels: {topology.kubernetes.io/region: us-east-1}
      context: ctx-us
  tenants:
    - name: alpha
      owner: alice@example.com
      roles:
        admin: {groups: [alpha-admins]}
      namespaces:
        - name: alpha-eu
          placement:
            nodeSelector: {topology.kubernetes.io/region: eu-west-1, gpu: "true"}
        - name: alpha-us
          placement:
            nodeSelector: {topology.kubernetes.io/region: us-east-1}
    - name: beta
      owner: bob@example.com
      roles:
        admin: {groups: [beta-admins]}
      namespaces:
        - name: beta-tools
          placement: {cluster: us}
"""
