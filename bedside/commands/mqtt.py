"""``crampwatch mqtt purge``: remove a bedside unit (or the demo) from the broker and from Home
Assistant: its discovery topics and every retained topic under its base topic."""

from __future__ import annotations

import argparse
import dataclasses
import json

from bedside.config.mqtt import parse_broker_url
from bedside.config.settings import load_settings
from bedside.live.mqtt import purge_node
from firmware_bridge.errors import ConfigError

HELP = (
    "remove a node's Home Assistant discovery and retained topics from the broker "
    "(stop its daemon first)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="mqtt_command", metavar="ACTION", required=True)
    purge = sub.add_parser("purge", help=HELP, description=HELP)
    purge.add_argument(
        "--config", metavar="FILE", help="TOML configuration: broker, credentials, node, legs"
    )
    purge.add_argument(
        "--node", metavar="NODE", help="node id to remove (default: the configuration's)"
    )
    purge.add_argument(
        "--mqtt", metavar="mqtt://HOST:PORT", help="broker (default: the configuration's)"
    )
    purge.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    mqtt = settings.mqtt
    if args.mqtt:
        host, port = parse_broker_url(args.mqtt)
        mqtt = dataclasses.replace(mqtt, host=host, port=port)
    if args.node:
        try:
            mqtt = dataclasses.replace(mqtt, node_id=args.node)
        except ValueError as exc:  # MqttSettings checks the node id
            raise ConfigError(f"--node: {exc}") from exc
    legs = tuple(item.leg for item in settings.legs())
    result = purge_node(mqtt, legs=legs)
    if args.json:
        print(json.dumps(dataclasses.asdict(result)))
    else:
        print(
            f"{result.host}:{result.port}: node {result.node}: cleared {len(result.cleared)} "
            f"topic(s) ({result.retained_found} retained under its base topic, the rest "
            "discovery)"
        )
    return 0
