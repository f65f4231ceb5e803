"""The pure core: resource models, desired state, planning, access decisions, conditions.

Nothing here does I/O; every edge (controller, operator, gateway, CLI) builds on it.
"""
