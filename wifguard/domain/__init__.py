"""The trust model and its parsers: identities, credentials, issuers, subjects, flexible
expressions, roles. Pure values and functions: no I/O, no SDK.
"""
