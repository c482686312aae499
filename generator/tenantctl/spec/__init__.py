"""The tenant spec: loading it with source locations, checking it, and resolving it into a model."""
