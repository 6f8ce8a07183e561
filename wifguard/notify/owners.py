"""Owner lists as every chat format shows them: de-duplicated, labelled, addressable."""

from __future__ import annotations

from collections.abc import Iterable

from wifguard.domain.model import Owner


def unique_owners(owners: Iterable[Owner]) -> list[Owner]:
    """Owners in order, each once (by id, else UPN, mail or name; case-insensitive)."""
    seen: set[str] = set()
    out: list[Owner] = []
    for o in owners:
        key = (o.id or o.user_principal_name or o.mail or o.display_name or "").lower()
        if key and key not in seen:
            seen.add(key)
            out.append(o)
    return out


def owner_label(owner: Owner) -> str:
    return owner.display_name or owner.user_principal_name or owner.mail or owner.id


def owner_keys(owner: Owner) -> list[str]:
    """Lower-cased addresses a chat-id map may be keyed by (UPN, mail, object id)."""
    return [k.lower() for k in (owner.user_principal_name, owner.mail, owner.id) if k]
