"""What wifguard changes in the tenant: quarantine (backup, delete, verify) and its guard,
restore, and the migration of name-based subjects to immutable ids.
"""
