"""The outside half of a trust: providers that check what a subject names on GitHub, GitLab and
Terraform Cloud, a Table Storage cache of their answers, and the facts the rules read.

Nothing here loads an SDK at import; ``githubkit`` and ``httpx`` load when a check runs.
"""
