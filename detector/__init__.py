"""The signal pipeline: arrays in, events out.

numpy and scipy only; no I/O, no wall clock (time is sample index / rate). Never imports
``firmware_bridge`` or ``bedside``.
"""
