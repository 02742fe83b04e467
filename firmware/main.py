"""Board entry point: copied to the board's root as ``main.py`` (docs/hardware.md "Flashing").

Imports our ``firmware.service`` only; everything else lives in the ``/firmware`` package.
"""

from firmware import service

service.main()
