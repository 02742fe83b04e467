"""The bedside stretch prompt and the bedtime stretching reminder.

Modules: ``engine`` (the prompt sequencer: pure logic with an injected clock, plus the async
engine that feeds a player), ``speech`` (espeak-ng → WAV cache), ``output`` (the player seam),
``player`` (aplay, command hook, WAV directory, none), ``gpio`` (LED/buzzer around a player),
``reminder`` (bedtime reminder and its adherence log). The default wording and the settings are
in ``bedside.config``. Nothing here imports paho or bleak: MQTT calls :meth:`PromptEngine.silence`
and :meth:`BedtimeReminder.confirm_done`, and receives reminders through a publish hook.
"""
