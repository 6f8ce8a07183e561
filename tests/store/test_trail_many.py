"""The credential trail's ``note_many`` answers exactly as one ``note`` after another (Azurite)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from wifguard.azurite import Azurite
from wifguard.store import Store

APP = "44444444-dddd-4ddd-8ddd-000000000004"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def _notes() -> list[tuple[str, str, datetime]]:
    m = timedelta(minutes=1)
    return [("blink", "added", T0), ("Other", "removed", T0 + 2 * m), ("BLINK", "removed", T0 + 5 * m),
            ("blink", "added", T0 - m),  # older than what is known: changes nothing
            ("other", "added", T0 + m), ("blink", "added", T0 + 9 * m), ("new", "added", T0)]


async def test_note_many_answers_as_notes_one_after_another(azurite: Azurite, prefix: str) -> None:
    one = Store.from_connection_string(azurite.connection_string, prefix=prefix + "a")
    many = Store.from_connection_string(azurite.connection_string, prefix=prefix + "b")
    await one.ensure()
    await many.ensure()
    try:
        # something known before, on both
        await one.trail.note(APP, "other", "added", T0 - timedelta(hours=1))
        await many.trail.note(APP, "other", "added", T0 - timedelta(hours=1))
        sequential = [await one.trail.note(APP, n, w, t) for n, w, t in _notes()]
        together = await many.trail.note_many(APP, _notes())
        assert together == sequential
        # and what is stored afterwards is the same
        for name in ("blink", "other", "new"):
            assert await one.trail.note(APP, name, "added", T0 - timedelta(days=1)) == \
                await many.trail.note(APP, name, "added", T0 - timedelta(days=1))
    finally:
        await one.close()
        await many.close()
