"""Optional GPIO LED/buzzer, checked with gpiozero's mock pin factory (when gpiozero is there)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from typing import Any

import pytest

from bedside.config.prompt import PromptSettings
from bedside.prompt.gpio import GpioSignal, with_gpio
from bedside.prompt.player import NullPlayer, build_player
from bedside.prompt.speech import Clip
from tests.bedside.prompt_fixtures import RecordingPlayer

OPENING = Clip("opening", "Straighten your leg.", None, 0.0)
HOLD = Clip("hold.0", "Keep holding.", None, 0.0)


def mock_factory() -> Any:
    pytest.importorskip("gpiozero", reason="optional extra: pip install 'gpiozero>=2'")
    mock: Any = importlib.import_module("gpiozero.pins.mock")
    return mock.MockFactory()


async def wait_states(pin: Any, n: int) -> list[bool]:
    for _ in range(200):  # gpiozero's background thread: up to 2 s
        if len(pin.states) >= n:
            break
        await asyncio.sleep(0.01)
    return [bool(s.state) for s in pin.states]


async def test_led_blinks_per_line_and_buzzer_beeps_before_the_first() -> None:
    factory = mock_factory()
    inner = RecordingPlayer()
    signal = GpioSignal(
        inner, led_pin=17, buzzer_pin=27, pin_factory=factory, blink_s=0.01, beep_s=0.01
    )
    await signal.play(OPENING, timeout_s=1.0)
    led, buzzer = factory.pin(17), factory.pin(27)
    # initial off, then on/off per blink (ecosystem note §6: F,T,F,T,F,T,F for three blinks)
    assert await wait_states(led, 7) == [False, True, False, True, False, True, False]
    assert await wait_states(buzzer, 5) == [False, True, False, True, False]
    await signal.play(HOLD, timeout_s=1.0)
    assert len(await wait_states(led, 13)) == 13
    await asyncio.sleep(0.1)
    assert len(buzzer.states) == 5  # no beep for a hold line
    assert [key for key, _, _ in inner.played] == ["opening", "hold.0"]
    await signal.stop()
    assert inner.stops == 1 and not factory.pin(17).state
    signal.close()


def test_build_player_wraps_when_a_pin_is_set() -> None:
    factory = mock_factory()
    settings = PromptSettings(backend="none", gpio_led_pin=22)
    wrapped = with_gpio(NullPlayer(), settings, pin_factory=factory)
    assert isinstance(wrapped, GpioSignal) and wrapped.name == "none+gpio"
    wrapped.close()


def test_no_pins_means_no_gpio_import() -> None:
    player = NullPlayer()
    assert with_gpio(player, PromptSettings()) is player
    assert isinstance(build_player(PromptSettings(backend="none")), NullPlayer)


def test_missing_gpiozero_is_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "gpiozero", None)  # as if not installed
    player = NullPlayer()
    with caplog.at_level(logging.WARNING):
        assert with_gpio(player, PromptSettings(gpio_buzzer_pin=27)) is player
    (record,) = caplog.records
    assert "gpiozero is not installed" in record.getMessage()


def test_pin_out_of_range_is_refused() -> None:
    from bedside.config.builder import build
    from firmware_bridge.errors import ConfigError

    with pytest.raises(ConfigError, match="gpio_led_pin': 40 is above the maximum 27"):
        build(PromptSettings, {"gpio_led_pin": 40}, section="prompt")
