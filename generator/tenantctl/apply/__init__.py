"""`tenantctl apply` and `tenantctl diff`: server-side apply of a rendering, with safe prune.

``plan`` decides purely, from rendered and live objects, what to apply, skip, adopt, refuse and
prune; ``run`` carries a plan out through ``tenantctl.kube``; ``diffing`` shows what would change;
``actions`` offers apply, diff and prune as library calls; ``command`` is the command line.
"""
