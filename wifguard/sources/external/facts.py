"""The ``external`` variable of a credential when nothing was checked (loads nothing else).

Every state is ``""``, so no external rule can fire: they fire on ``missing``, ``unprotected`` or a
proven id mismatch only, never on ``unknown`` or ``""``.
"""

from __future__ import annotations

from typing import Any

EXTERNAL_UNCHECKED: dict[str, Any] = {
    "checked": False,  # at least one definite answer about this credential
    "github_owner": "",  # exists | missing | unknown | "" (not checked)
    "github_repo": "",
    "github_ids_differ": False,  # proven: the name now holds other ids than the subject's / first seen
    "github_environment": "",  # protected | unprotected | missing | unknown | ""
    "gitlab_group": "",
    "gitlab_project": "",
    "tfc_organization": "",
    "tfc_workspace": "",
    # message texts (not read by conditions)
    "github_missing_text": "",
    "github_ids_text": "",
    "github_environment_text": "",
    "gitlab_missing_text": "",
    "tfc_missing_text": "",
}
