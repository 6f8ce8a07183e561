"""``python -m wifguard.cli``."""

from wifguard.cli.main import main

main()
