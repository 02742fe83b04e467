"""The live daemon and its edges: :mod:`~bedside.live.daemon` (one night), one
:mod:`~bedside.live.worker` per wearable, the :mod:`~bedside.live.sink` every event goes through,
:mod:`~bedside.live.mqtt` (the only paho import) with Home Assistant discovery and the durable
outbox, the systemd :mod:`~bedside.live.service` wiring, sd_notify, recording retention, raw
capture and the virtual wearable. Never imports ``bedside.offline``: the end-of-night report is
injected."""
