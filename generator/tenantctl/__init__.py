"""tenantctl: a tenant spec in git, rendered into per-namespace isolation manifests."""

__version__ = "0.1.0"
