"""The one stream wiring, used by everything that runs the detector.

* :mod:`~bedside.stream.build`: the one place that builds a detector (settings, calibration,
  device info);
* :mod:`~bedside.stream.feed`: the one feed loop, blocks and gaps → detector → EventRecord;
* :mod:`~bedside.stream.session_feed`: notifications → codec → the feed (the live worker and
  session replay share it, so a replay equals the live run by construction);
* :mod:`~bedside.stream.edf_feed`: EDF/BDF files → the feed;
* :mod:`~bedside.stream.records`: the frozen EventRecord and its JSONL edge;
* :mod:`~bedside.stream.night`: night naming and the night summary;
* :mod:`~bedside.stream.calibration_store`: the per-leg calibration files.

Imports ``firmware_bridge``, ``detector`` and ``bedside.config`` only.
"""
