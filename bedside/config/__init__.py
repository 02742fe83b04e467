"""Settings: one frozen dataclass per concern (daemon, MQTT, prompt; the detector's and the
wearable link's live in their own rooms), composed by :mod:`bedside.config.settings` and loaded
from TOML by :mod:`bedside.config.builder`. The lowest bedside room: it imports no other."""
