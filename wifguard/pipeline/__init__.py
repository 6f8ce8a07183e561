"""The one flow every trigger ends in: decoded payloads in, the live context read,
evaluated, recorded, notified and quarantined; the sweep; re-drives of parked records.
"""
