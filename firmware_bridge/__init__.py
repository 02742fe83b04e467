"""The wearable link: wire codec, BLE client, virtual wearable, recordings, EDF files, simulator.

Never imports ``bedside`` or ``detector``.
"""
