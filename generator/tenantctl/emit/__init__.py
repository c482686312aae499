"""Emitters: lay a Rendering out on disk, and ``actions.generate``, the generate command's action.

``kustomize`` writes the base-and-overlays tree, ``helm`` the chart, ``gitops`` and
``fleet_argocd`` the Argo CD and Flux objects that sync it, ``fleet`` one tree per cluster;
``names`` keeps generated names within Kubernetes' limits; ``staging`` and ``ownership`` make
every write all-or-nothing and record which files generate owns.
"""
