"""crampwatch reference wearable firmware (MicroPython, on-device only; see firmware/README.md).

Copied to the board as the package ``/firmware`` (plus ``main.py`` at the root). Host packages
never import it; ``tests/firmware`` runs its pure modules on CPython.
"""
