"""Renderers: pure functions from the resolved spec model to manifest dicts, one module per family.

Nothing here reads or writes files or talks to a cluster; ``bundle.render`` assembles every
family into a ``Rendering`` that the emitters lay out on disk.
"""
