"""Optional GPIO signal beside the audio: an LED blinks with every prompt line, a buzzer beeps
before the first line of a sequence. Needs gpiozero ≥ 2 (lgpio works on the Pi 5; Debian's 1.6
does not), imported only when a pin is configured; without it, or without ``/dev/gpiochip*``,
one WARNING line and the prompt goes on without GPIO.

gpiozero's ``blink``/``beep`` run in its own background thread, so :meth:`GpioSignal.play`
never blocks the event loop on them. Timings follow the ecosystem note §6
(``LED(17).blink(0.2, 0.2, n=3)``, ``Buzzer(27).beep(0.1, 0.1, n=2)``).
No paho, no bleak.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from typing import Any

from bedside.config.prompt import PromptSettings
from bedside.prompt.output import Player
from bedside.prompt.speech import FIRST_KEYS, Clip

log = logging.getLogger(__name__)

BLINK_S = 0.2  # LED on/off time per blink (ecosystem note §6)
BLINKS = 3
BEEP_S = 0.1  # buzzer on/off time per beep
BEEPS = 2


class GpioSignal:
    """A :class:`Player` that signals on GPIO pins, then hands the clip to ``inner``."""

    def __init__(
        self,
        inner: Player,
        *,
        led_pin: int = 0,
        buzzer_pin: int = 0,
        pin_factory: Any = None,
        blink_s: float = BLINK_S,
        beep_s: float = BEEP_S,
    ) -> None:
        gpiozero: Any = importlib.import_module("gpiozero")  # ModuleNotFoundError if absent
        self.inner = inner
        self.name = f"{inner.name}+gpio"
        self._blink_s, self._beep_s = blink_s, beep_s
        self.led: Any = gpiozero.LED(led_pin, pin_factory=pin_factory) if led_pin else None
        self.buzzer: Any = (
            gpiozero.Buzzer(buzzer_pin, pin_factory=pin_factory) if buzzer_pin else None
        )

    async def play(self, clip: Clip, *, timeout_s: float) -> None:
        if self.led is not None:
            self.led.blink(self._blink_s, self._blink_s, n=BLINKS, background=True)
        if self.buzzer is not None and clip.key in FIRST_KEYS:
            self.buzzer.beep(self._beep_s, self._beep_s, n=BEEPS, background=True)
        await self.inner.play(clip, timeout_s=timeout_s)

    async def stop(self) -> None:
        for device in (self.led, self.buzzer):
            if device is not None:
                device.off()
        await self.inner.stop()

    def close(self) -> None:
        """Release the pins."""
        for device in (self.led, self.buzzer):
            if device is not None:
                with contextlib.suppress(Exception):
                    device.close()


def with_gpio(player: Player, settings: PromptSettings, *, pin_factory: Any = None) -> Player:
    """``player`` wrapped in a :class:`GpioSignal` if a pin is set and GPIO works here."""
    if not (settings.gpio_led_pin or settings.gpio_buzzer_pin):
        return player
    try:
        return GpioSignal(
            player,
            led_pin=settings.gpio_led_pin,
            buzzer_pin=settings.gpio_buzzer_pin,
            pin_factory=pin_factory,
        )
    except ModuleNotFoundError:
        log.warning(
            "prompt: gpio_led_pin/gpio_buzzer_pin are set but gpiozero is not installed "
            "(pip install 'gpiozero>=2'); GPIO signals are off"
        )
    except Exception as exc:  # gpiozero raises its own tree (BadPinFactory, PinInvalidPin, …)
        log.warning("prompt: GPIO unavailable (%s: %s); GPIO signals are off",
                    type(exc).__name__, exc)  # fmt: skip
    return player
