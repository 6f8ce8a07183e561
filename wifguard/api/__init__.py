"""The HTTP API (health, findings, restore) behind the Functions' HTTP triggers.
"""
