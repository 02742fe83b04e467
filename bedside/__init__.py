"""The daemon and its edges, in rooms that import only downward (``tests/test_layout.py``)::

    config    settings dataclasses, the TOML loader, the default prompt phrases
    stream    the one wiring: build a detector, feed blocks/packets through it, EventRecord
    prompt    stretch prompt sequencer, speech, players, bedtime reminder
    live      daemon, leg worker, event sink, MQTT + discovery + outbox, service, capture
    offline   replay of a night, truth and labels, tune, report, plot
    commands  one module per subcommand: parse arguments, call one function
    cli       the ``crampwatch`` entry point

``live`` and ``offline`` never import each other; commands never import commands.
"""
