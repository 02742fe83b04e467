"""The bedside stretch prompt and the bedtime stretching reminder.

Modules: ``phrases`` (default English wording), ``engine`` (the prompt sequencer: pure logic with an
injected clock, plus the async engine that feeds a player), ``speech`` (espeak-ng → WAV cache),
``player`` (aplay, command hook, WAV directory, none), ``reminder`` (bedtime reminder and its
adherence log). Nothing here imports paho or bleak: MQTT calls :meth:`PromptEngine.silence`
and :meth:`BedtimeReminder.confirm_done`, and receives reminders through a publish hook.

This ``__init__`` imports nothing, so ``bedside.config.prompt`` can import ``phrases`` safely.
"""
