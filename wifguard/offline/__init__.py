"""Credential files evaluated without a tenant (``wifguard evaluate``).
"""
