"""Spec texts shared by the spec tests."""

# The smallest valid spec; tests append to or edit it. Line numbers in assertions count from
# the first line of the text a test writes.
MINIMAL = """\
apiVersion: tenantctl.dev/v1alpha1
kind: TenantSet
metadata:
  name: demo
spec:
  platform:
    gateway: {}
  tenants:
    - name: alpha
      owner: alice@example.com
      roles:
        admin: {groups: [alpha-admins]}
      namespaces:
        - name: alpha-dev
"""
