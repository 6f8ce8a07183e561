"""``python -m wifguard.sim --seed FILE [--port N]``: serve a seed in the foreground."""

from .server import main

main()
