"""Everything `serve` can be told, as one value; flags and the optional YAML config file fill it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mockserver.control.faults import FaultRule
from mockserver.control.journal import DEFAULT_JOURNAL_SIZE
from mockserver.control.webhooks import WebhookSettings
from mockserver.core.keys import KeyRules
from mockserver.core.videos import DEFAULT_TIMINGS, Timing
from mockserver.render.settings import MediaSettings

DEFAULT_MAX_UPLOAD_MB = 20


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class ServerConfig:
    spec: str = "reference"
    speed: float = 1.0
    seed: int | None = None
    # Empty: any `sk-...` key is accepted. Otherwise only these keys, each with its rules.
    api_keys: dict[str, KeyRules] = field(default_factory=dict)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 1024 * 1024
    fixtures_dir: Path | None = None
    timings: dict[str, Timing] = field(default_factory=lambda: dict(DEFAULT_TIMINGS))
    admin_token: str | None = None
    # Set by `serve` from the bind address: the control API is open without a token on loopback only.
    loopback_only: bool = True
    # The address `serve --host` binds; the control API's Host check accepts it besides loopback names
    # (see mockserver/control/browsers.py). None for an app built in-process: no Host check.
    bind_host: str | None = None
    profile: str = "reference"
    # `--profile-option NAME=VALUE` and the config file's `profile_options:`; the profile checks them.
    profile_options: dict[str, str] = field(default_factory=dict)
    # Start-up faults (--fault, --rate-limit, --latency-ms, the config file's `faults:`); reset restores them.
    faults: tuple[FaultRule, ...] = ()
    journal_size: int = DEFAULT_JOURNAL_SIZE
    store: str = "memory:"  # where state lives (see mockserver.store): memory:, sqlite:///PATH, redis://HOST:PORT/DB
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    # Media drawn for each job (--media-*, --no-render, the config file's `media:`).
    media: MediaSettings = field(default_factory=MediaSettings)
    replay: Path | None = None  # `serve --replay DIR`: a cassette written by `mockserver proxy --record`
    replay_unmatched: str = "error"  # a create no recorded one matches: "error" (400) or "fake"


def load_config_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def parse_api_keys(entries: Any, where: str) -> dict[str, KeyRules]:
    """`api_keys:` is a list of keys, or a mapping key -> {deny_models: [...]}."""
    if entries is None:
        return {}
    if isinstance(entries, list):
        entries = {str(key): {} for key in entries}
    if not isinstance(entries, dict):
        raise ConfigError(f"{where}: api_keys must be a list or a mapping")
    keys: dict[str, KeyRules] = {}
    for key, rules in entries.items():
        rules = rules or {}
        if not isinstance(rules, dict):
            raise ConfigError(f"{where}: rules for a key must be a mapping like {{deny_models: [sora-2-pro]}}")
        keys[str(key)] = KeyRules(frozenset(map(str, rules.get("deny_models", []))))
    return keys


def parse_timings(entries: Any, where: str) -> dict[str, Timing]:
    timings = dict(DEFAULT_TIMINGS)
    for model, spec in (entries or {}).items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: timings.{model} must be a mapping")
        try:
            timings[str(model)] = Timing(
                float(spec.get("queue_seconds", timings["*"].queue_seconds)),
                float(spec.get("render_seconds_per_clip_second", timings["*"].render_seconds_per_clip_second)),
            )
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: timings.{model} values must be numbers") from None
    return timings
