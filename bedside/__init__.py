"""The daemon and its edges: CLI, settings, MQTT, outbox, prompt player, replay wiring."""
