"""Emitters: lay a Rendering out on disk (Kustomize tree, later Helm chart and GitOps objects)."""
