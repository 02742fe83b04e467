"""Offline tools over recorded nights: :mod:`~bedside.offline.replay` (one night through the
production wiring), :mod:`~bedside.offline.truth` and :mod:`~bedside.offline.labels` (what
really happened), :mod:`~bedside.offline.scoring` (events against a truth),
:mod:`~bedside.offline.tune`, :mod:`~bedside.offline.report` and :mod:`~bedside.offline.plot`.
Never imports ``bedside.live``."""
