"""Privilege as attackers see it: Microsoft Graph application permissions, Entra directory roles,
ownership of other identities and managed identities trusted by apps (WIF606-WIF609), with the
tiers as data (``data/tiering.yaml``).

``model`` holds the values, ``reader`` the registered Graph sources, ``tiering`` the tier tables
and ``facts`` the rule variables.
"""
