"""The JSON Schema of the config file (shipped as ``wifguard/data/config.schema.json`` for
editors; ``wifguard config schema`` prints it). Generated from the pydantic models, so it cannot
drift; a test checks the shipped file is current."""

from __future__ import annotations

import json
from typing import Any

SCHEMA_FILE = "config.schema.json"


def config_json_schema() -> dict[str, Any]:
    from wifguard.config import Config
    from wifguard.domain.model import Severity

    schema = Config.model_json_schema()
    schema["properties"].pop("source", None)  # set by the loader, not by users
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "wifguard configuration"
    # Users write severities as words (case-insensitive); the model stores them as ordered ints.
    schema["$defs"]["Severity"] = {"type": "string", "enum": [s.label for s in Severity],
                                   "description": "info < low < medium < high < critical"}
    # Outside providers register their own settings (wifguard.sources.external): one entry each.
    from wifguard.sources.external.base import load_builtin_providers

    schema["properties"]["external"] = {
        "type": "object", "additionalProperties": False, "title": "External",
        "description": "Outside checks (WIF212-WIF216); every provider is off by default.",
        "properties": {name: {**spec.config_model.model_json_schema(), "description": f"Needs: {spec.needs}"}
                       for name, spec in sorted(load_builtin_providers().items())}}
    schema["properties"]["notifications"] = {**schema["properties"]["notifications"],
                                             "properties": {"channels": _channels_schema()}}
    return schema


def _channels_schema() -> dict[str, Any]:
    """``notifications.channels``: the registered channel types and the keys each adds."""
    from wifguard.notify.channels import load_builtin_channels

    kinds = load_builtin_channels()
    options = {key: {"type": "string", "description": f"{text} (channels of type {t})"}
               for t, kind in sorted(kinds.items()) for key, text in kind.options.items()}
    channel = {
        "type": "object", "required": ["type", "url_setting"], "additionalProperties": False,
        "properties": {
            "type": {"enum": sorted(kinds),
                     "description": "; ".join(f"{t}: {kinds[t].description}" for t in sorted(kinds))},
            "url_setting": {"type": "string", "description": "the app setting holding the webhook URL / topic "
                                                             "endpoint (never the URL itself)"},
            "min_severity": {"$ref": "#/$defs/Severity"},
            "rules": {"type": "array", "items": {"type": "string"}, "description": "rule ids (fnmatch patterns)"},
            **options,
        },
    }
    return {"type": "object", "additionalProperties": channel,
            "description": "Channel name -> settings; types come from the channel registry (wifguard.notify.channels)."}


def render() -> str:
    return json.dumps(config_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # python -m wifguard.config_schema: regenerate the shipped file
    from wifguard.package_data import data_file

    data_file(SCHEMA_FILE).write_text(render(), encoding="utf-8")
