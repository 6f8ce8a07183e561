"""The JSON Schema of the config file (shipped as ``wifguard/data/config.schema.json`` for
editors; ``wifguard config schema`` prints it). Generated from the pydantic models, so it cannot
drift; a test checks the shipped file is current."""

from __future__ import annotations

import json
from typing import Any

SCHEMA_FILE = "config.schema.json"


def config_json_schema() -> dict[str, Any]:
    from wifguard.config import Config
    from wifguard.model import Severity

    schema = Config.model_json_schema()
    schema["properties"].pop("source", None)  # set by the loader, not by users
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "wifguard configuration"
    # Users write severities as words (case-insensitive); the model stores them as ordered ints.
    schema["$defs"]["Severity"] = {"type": "string", "enum": [s.label for s in Severity],
                                   "description": "info < low < medium < high < critical"}
    # Outside providers register their own settings (wifguard.external): one entry each.
    from wifguard.external.base import load_builtin_providers

    schema["properties"]["external"] = {
        "type": "object", "additionalProperties": False, "title": "External",
        "description": "Outside checks (WIF212-WIF216); every provider is off by default.",
        "properties": {name: {**spec.config_model.model_json_schema(), "description": f"Needs: {spec.needs}"}
                       for name, spec in sorted(load_builtin_providers().items())}}
    return schema


def render() -> str:
    return json.dumps(config_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # python -m wifguard.config_schema: regenerate the shipped file
    from wifguard.package_data import data_file

    data_file(SCHEMA_FILE).write_text(render(), encoding="utf-8")
