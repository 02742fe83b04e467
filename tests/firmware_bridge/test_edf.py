"""EDF/EDF+/BDF/BDF+ writer and reader: round trips, edfio both ways, damaged files, fuzz."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from pathlib import Path
from typing import Any

import edfio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.edf import (
    BDF_DIGITAL_RANGE,
    HEADER_BYTES,
    EdfAnnotation,
    EdfReader,
    EdfSignalSpec,
    EdfWriter,
    accel_axis,
    format_number,
)
from firmware_bridge.errors import InputError

START = dt.datetime(2026, 11, 26, 22, 30, 0)
EMG = EdfSignalSpec("EMG calf", "uV", 500.0, -5000.0, 5000.0)
ACC = [EdfSignalSpec(f"Accel {a}", "g", 25.0, -8.0, 8.0) for a in "XYZ"]


def _signals(rng: np.random.Generator, seconds: float) -> list[np.ndarray]:
    emg = rng.normal(0.0, 300.0, round(500 * seconds))
    acc = [rng.normal(0.0, 1.0, round(25 * seconds)) for _ in range(3)]
    return [emg, *acc]


def _write(
    path: Path, data: list[np.ndarray], cuts: list[float], *, bdf: bool = False
) -> EdfWriter:
    specs = [EMG, *ACC]
    if bdf:
        lo, hi = BDF_DIGITAL_RANGE
        specs = [
            EdfSignalSpec(s.label, s.unit, s.rate_hz, s.physical_min, s.physical_max, lo, hi)
            for s in specs
        ]
    with EdfWriter(path, specs, start=START, bdf=bdf) as w:
        for a, b in itertools.pairwise([0.0, *sorted(cuts), 1.0]):
            w.write([x[round(a * x.size) : round(b * x.size)] for x in data])
    return w


def _step(spec: EdfSignalSpec) -> float:
    return (spec.physical_max - spec.physical_min) / (spec.digital_max - spec.digital_min)


@pytest.mark.parametrize("bdf", [False, True])
def test_round_trip_with_partial_blocks(
    tmp_path: Path, rng: np.random.Generator, bdf: bool
) -> None:
    data = _signals(rng, 12.5)  # not a whole number of 1-s records: the last one is padded
    path = tmp_path / ("night.bdf" if bdf else "night.edf")
    w = _write(path, data, [0.013, 0.3, 0.3, 0.77], bdf=bdf)
    assert w.n_records == 13
    r = EdfReader(path)
    assert (r.is_bdf, r.is_plus, r.is_discontinuous) == (bdf, True, False)
    assert r.n_records == 13 and r.record_duration_s == 1.0 and r.duration_s == 13.0
    assert r.start == START
    assert [s.label for s in r.signals] == ["EMG calf", "Accel X", "Accel Y", "Accel Z"]
    assert [s.rate_hz for s in r.signals] == [500.0, 25.0, 25.0, 25.0]
    assert r.signals[0].unit == "uV" and r.signals[1].unit == "g"
    blocks = list(r.iter_blocks([0, 1, 2, 3], records_per_block=4))
    assert [b[0].size for b in blocks] == [2000, 2000, 2000, 500]
    for i, x in enumerate(data):
        got = np.concatenate([b[i] for b in blocks])
        spec = [EMG, *ACC][i]
        tol = (_step(spec) / (256 if bdf else 1)) / 2 + 1e-9
        np.testing.assert_allclose(got[: x.size], x, rtol=0, atol=tol)
        np.testing.assert_allclose(got[x.size :], 0.0, atol=tol)  # padding is physical 0
    assert r.warnings == []


def test_annotations_late_and_subsecond_start(tmp_path: Path, rng: np.random.Generator) -> None:
    start = START.replace(microsecond=375000)
    data = _signals(rng, 6.0)
    path = tmp_path / "a.edf"
    with EdfWriter(path, [EMG, *ACC], start=start) as w:
        w.annotate(0.25, 1.5, "before any data")
        w.write([x[: x.size // 2] for x in data])
        w.annotate(0.5, None, "late, lands in a later record")
        w.write([x[x.size // 2 :] for x in data])
        w.annotate(5.9, 0.0, "cramp ✓ unicode")
    r = EdfReader(path)
    assert r.start == start
    assert r.annotations() == [
        EdfAnnotation(onset_s=0.25, duration_s=1.5, text="before any data"),
        EdfAnnotation(onset_s=0.5, duration_s=None, text="late, lands in a later record"),
        EdfAnnotation(onset_s=5.9, duration_s=0.0, text="cramp ✓ unicode"),
    ]
    f = edfio.read_edf(path)  # an independent reader agrees
    assert dt.datetime.combine(f.startdate, f.starttime) == start
    assert sorted((a.onset, a.text) for a in f.annotations) == [
        (0.25, "before any data"),
        (0.5, "late, lands in a later record"),
        (5.9, "cramp ✓ unicode"),
    ]


def test_many_late_annotations_fill_earlier_records_at_close(tmp_path: Path) -> None:
    path = tmp_path / "many.edf"
    with EdfWriter(path, [EMG], start=START, annotation_bytes_per_record=64) as w:
        w.write([np.zeros(500 * 5)])
        for k in range(8):  # more than the one record left can hold: goes to earlier records
            w.annotate(float(k), None, f"note {k}")
        w.write([np.zeros(500)])
    r = EdfReader(path)
    assert sorted(a.text for a in r.annotations()) == [f"note {k}" for k in range(8)]


@pytest.mark.parametrize("bdf", [False, True])
def test_edfio_reads_ours(tmp_path: Path, rng: np.random.Generator, bdf: bool) -> None:
    data = _signals(rng, 4.0)
    path = tmp_path / ("ours.bdf" if bdf else "ours.edf")
    with EdfWriter(path, [EMG, *ACC], start=START, bdf=bdf) as w:
        w.write(data)
        w.annotate(1.25, 2.0, "cramp")
    f = (edfio.read_bdf if bdf else edfio.read_edf)(path)
    assert [s.label for s in f.signals] == ["EMG calf", "Accel X", "Accel Y", "Accel Z"]
    assert f.signals[0].sampling_frequency == 500.0
    assert f.signals[0].physical_dimension == "uV"
    np.testing.assert_allclose(f.signals[0].data, data[0], atol=_step(EMG))
    np.testing.assert_allclose(f.signals[3].data, data[3], atol=_step(ACC[2]))
    assert [(a.onset, a.duration, a.text) for a in f.annotations] == [(1.25, 2.0, "cramp")]


@pytest.mark.parametrize("bdf", [False, True])
def test_we_read_edfio(tmp_path: Path, rng: np.random.Generator, bdf: bool) -> None:
    emg, acc = rng.normal(0, 300, 2000), rng.normal(0, 1, 100)
    kw: dict[str, Any] = {
        "recording": edfio.Recording(startdate=START.date()),
        "starttime": START.time(),
        "annotations": [
            edfio.EdfAnnotation(0.5, 1.0, "stretch"),
            edfio.EdfAnnotation(1.5, None, "x"),
        ],
    }
    emg_kw: dict[str, Any] = {
        "label": "EMG L gastroc",
        "physical_dimension": "mV",
        "physical_range": (-5.0e3, 5.0e3),
    }
    acc_kw: dict[str, Any] = {
        "label": "Acc X",
        "physical_dimension": "g",
        "physical_range": (-8, 8),
    }
    f: edfio.Edf | edfio.Bdf
    if bdf:
        f = edfio.Bdf(
            [edfio.BdfSignal(emg, 1000, **emg_kw), edfio.BdfSignal(acc, 50, **acc_kw)], **kw
        )
    else:
        f = edfio.Edf(
            [edfio.EdfSignal(emg, 1000, **emg_kw), edfio.EdfSignal(acc, 50, **acc_kw)], **kw
        )
    path = tmp_path / ("edfio.bdf" if bdf else "edfio.edf")
    f.write(path)
    r = EdfReader(path)
    assert r.is_plus and r.is_bdf == bdf
    assert r.start == START
    assert [(s.label, s.unit, s.rate_hz) for s in r.signals] == [
        ("EMG L gastroc", "mV", 1000.0),
        ("Acc X", "g", 50.0),
    ]
    got = [np.concatenate(parts) for parts in zip(*r.iter_blocks([0, 1], 1), strict=True)]
    np.testing.assert_allclose(got[0], f.signals[0].data, atol=1e-9)
    np.testing.assert_allclose(got[1], f.signals[1].data, atol=1e-9)
    assert [(a.onset_s, a.duration_s, a.text) for a in r.annotations()] == [
        (0.5, 1.0, "stretch"),
        (1.5, None, "x"),
    ]


def test_latin1_unit_is_tolerated(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "mu.edf"
    _write(path, _signals(rng, 2.0), [])
    raw = bytearray(path.read_bytes())
    unit_at = HEADER_BYTES + 5 * (16 + 80)  # unit of signal 0
    raw[unit_at : unit_at + 8] = "µV".encode("latin-1").ljust(8)
    path.write_bytes(bytes(raw))
    assert EdfReader(path).signals[0].unit == "µV"


def test_plain_edf_without_annotations(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "plain.edf"
    _write(path, _signals(rng, 3.0), [])
    raw = bytearray(path.read_bytes())
    raw[192:236] = b" " * 44  # reserved field: plain EDF, the annotation signal is ordinary
    path.write_bytes(bytes(raw))
    r = EdfReader(path)
    assert not r.is_plus and r.annotations() == []
    assert r.signals[-1].label == "EDF Annotations"


def test_discontinuous_chunks(tmp_path: Path, rng: np.random.Generator) -> None:
    data = _signals(rng, 6.0)
    path = tmp_path / "d.edf"
    with EdfWriter(path, [EMG, *ACC], start=START) as w:
        w.write([x[: x.size // 2] for x in data])  # records 0..2
        w.skip(7.5)
        w.write([x[x.size // 2 :] for x in data])  # records 3..5 at 10.5 s
    r = EdfReader(path)
    assert r.is_discontinuous
    chunks = list(r.iter_chunks([0], records_per_block=2))
    assert [(c.onset_s, c.first_record, c.n_records) for c in chunks] == [
        (0.0, 0, 2),
        (2.0, 2, 1),
        (10.5, 3, 1),
        (11.5, 4, 2),
    ]
    got = np.concatenate([c.samples[0] for c in chunks])[: data[0].size]
    np.testing.assert_allclose(got, data[0], atol=_step(EMG))
    f = edfio.read_edf(path)  # edfio accepts EDF+D
    assert f.signals[0].data.size >= data[0].size


def test_clipping_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "clip.edf"
    with EdfWriter(path, [EMG], start=START) as w:
        w.write([np.array([0.0, 9000.0, -9000.0, np.nan, 1.0] * 100)])
    assert w.clipped == 300
    (x,) = next(EdfReader(path).iter_blocks([0]))
    assert x[1] == pytest.approx(5000.0) and x[2] == pytest.approx(-5000.0)


def test_writer_refuses_misuse(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="whole number"):
        EdfWriter(tmp_path / "x.edf", [EdfSignalSpec("EMG", "uV", 333.3, -1, 1)], start=START)
    with pytest.raises(ValueError, match="ASCII"):
        EdfWriter(tmp_path / "y.edf", [EdfSignalSpec("EMG", "µV", 10, -1, 1)], start=START)
    with EdfWriter(tmp_path / "z.edf", [EMG], start=START) as w:
        w.write([np.zeros(3)])
        with pytest.raises(ValueError, match="record boundary"):
            w.skip(1.0)
        with pytest.raises(ValueError, match="bytes 0, 20 or 21"):
            w.annotate(0.0, None, "a\x14b")
        with pytest.raises(ValueError, match="expected 1 arrays"):
            w.write([np.zeros(3), np.zeros(3)])


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (-5000.0, "-5000"), (0.25, "0.25"), (-32768, "-32768"), (1 / 3, "0.333333")],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize(
    ("label", "axis"),
    [
        ("Accel X", "X"),
        ("acc_y", "Y"),
        ("ACCZ", "Z"),
        ("MISC Accel X L", "X"),
        ("misc accel z r", "Z"),
        ("Accel Y R ", "Y"),
        ("EMG calf L", None),
        ("MISC Status L", None),
        ("Accel X left", None),
        ("EEG Accel X", None),
    ],
)
def test_accel_axis(label: str, axis: str | None) -> None:
    assert accel_axis(label) == axis


def test_recording_field_names_the_equipment(tmp_path: Path) -> None:
    path = tmp_path / "eq.edf"
    start = dt.datetime(2026, 11, 27, 22, 1, 5)
    with EdfWriter(
        path,
        [EdfSignalSpec("EMG calf", "uV", 10.0, -1.0, 1.0)],
        start=start,
        equipment="crampwatch 1.2 fw0.1",
    ) as w:
        w.write([np.zeros(10)])
    assert EdfReader(path).recording == "Startdate 27-NOV-2026 X X crampwatch_1.2_fw0.1"
    assert edfio.read_edf(path).recording.equipment_code == "crampwatch_1.2_fw0.1"


def test_written_files_are_owner_only(tmp_path: Path) -> None:
    """EDF files hold health data (0600), also when they replace a world-readable file."""
    path = tmp_path / "night.edf"
    path.write_bytes(b"old")
    path.chmod(0o644)
    start = dt.datetime(2026, 11, 27, 22, 1, 5)
    with EdfWriter(path, [EdfSignalSpec("EMG calf", "uV", 10.0, -1.0, 1.0)], start=start) as w:
        w.write([np.zeros(10)])
    assert path.stat().st_mode & 0o777 == 0o600
    assert EdfReader(path).n_records == 1


def test_format_number_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        format_number(1.5e12)


# --- damaged files --------------------------------------------------------------------------


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.edf"
    _write(path, _signals(np.random.default_rng(3), 5.0), [])
    return path


def test_truncated_mid_record_reads_complete_records(
    good_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    r0 = EdfReader(good_file)
    raw = good_file.read_bytes()
    good_file.write_bytes(raw[: len(raw) - r0.record_bytes - 17])
    with caplog.at_level(logging.WARNING):
        r = EdfReader(good_file)
    assert r.n_records == 3
    assert "truncated" in r.warnings[0] and "truncated" in caplog.text
    assert sum(b[0].size for b in r.iter_blocks([0])) == 3 * 500


def test_unknown_record_count_of_an_unclosed_writer(
    good_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw = good_file.read_bytes()
    unclosed = raw[:236] + b"-1      " + raw[244:]  # what a killed writer leaves behind
    good_file.write_bytes(unclosed)
    assert EdfReader(good_file).n_records == 5
    good_file.write_bytes(unclosed[:-100])
    with caplog.at_level(logging.WARNING):
        r = EdfReader(good_file)
    assert r.n_records == 4 and "last data record is incomplete" in caplog.text


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (lambda raw: raw[:100], "shorter than the 256-byte header"),
        (lambda raw: b"1" + raw[1:], "version field"),
        (lambda raw: raw[:300], "truncated header"),
        (lambda raw: raw[:236] + b"abc     " + raw[244:], "number of data records is not an"),
        (lambda raw: (raw[:236] + b"0       " + raw[244:])[: 256 * 6], r"no \(complete\) data"),
        (lambda raw: raw[: 256 * 6 + 100], r"no \(complete\) data"),
        (lambda raw: raw[:236] + b"2       " + raw[244:], "size mismatch"),
        (lambda raw: raw + b"\x00" * 10, "size mismatch"),
        (lambda raw: raw[:244] + b"nan     " + raw[252:], "record duration is not a number"),
        (lambda raw: raw[:252] + b"0   " + raw[256:], "number of signals is 0"),
        (lambda raw: raw[:184] + b"512     " + raw[192:], "header size field"),
        (lambda raw: raw[:168] + b"31.02.26" + raw[176:], "invalid"),
        (lambda raw: raw[:168] + b"2026-11-" + raw[176:], "dd.mm.yy"),
        (lambda raw: raw[:236] + b"\xff" * 8 + raw[244:], "not ASCII"),
    ],
)
def test_damaged_header_is_one_clear_line(good_file: Path, patch: object, message: str) -> None:
    raw = good_file.read_bytes()
    good_file.write_bytes(patch(raw))  # type: ignore[operator]
    with pytest.raises(InputError, match=message) as info:
        EdfReader(good_file)
    text = str(info.value)
    assert text.startswith(str(good_file)) and "\n" not in text


def test_bad_signal_fields(good_file: Path) -> None:
    raw = bytearray(good_file.read_bytes())
    ns = 5
    dmin_at = HEADER_BYTES + ns * (16 + 80 + 8 + 8 + 8)  # digital minimum of signal 0
    raw[dmin_at : dmin_at + 8] = b"40000   "
    good_file.write_bytes(bytes(raw))
    with pytest.raises(InputError, match=r"digital range of signal 0 \('EMG calf'\)"):
        EdfReader(good_file)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        EdfReader(tmp_path / "nope.edf")
    with pytest.raises(InputError, match="is a directory"):
        EdfReader(tmp_path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bdf=st.booleans(),
    edits=st.lists(
        st.tuples(st.integers(0, 256 * 6 + 2000), st.binary(min_size=1, max_size=12)), max_size=6
    ),
    cut=st.one_of(st.none(), st.integers(0, 256 * 6 + 4000)),
)
def test_fuzzed_files_raise_only_input_error(
    tmp_path_factory: pytest.TempPathFactory,
    bdf: bool,
    edits: list[tuple[int, bytes]],
    cut: int | None,
) -> None:
    base = _fuzz_base(tmp_path_factory, bdf)
    raw = bytearray(base.read_bytes())
    for at, data in edits:
        raw[at : at + len(data)] = data
    if cut is not None:
        raw = raw[:cut]
    path = base.with_name("fuzzed")
    path.write_bytes(bytes(raw))
    try:
        r = EdfReader(path)
        r.annotations()
        for _ in r.iter_chunks(list(range(len(r.signals))), 2):
            pass
    except InputError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)


_FUZZ_BASE: dict[bool, Path] = {}


def _fuzz_base(factory: pytest.TempPathFactory, bdf: bool) -> Path:
    if bdf not in _FUZZ_BASE:
        path = factory.mktemp("fuzz") / ("base.bdf" if bdf else "base.edf")
        with EdfWriter(path, [EMG, *ACC], start=START, bdf=bdf) as w:
            w.write(_signals(np.random.default_rng(5), 3.0))
            w.annotate(1.0, 0.5, "x")
        _FUZZ_BASE[bdf] = path
    return _FUZZ_BASE[bdf]


@settings(max_examples=40, deadline=None)
@given(
    record_s=st.sampled_from([0.5, 1.0, 2.0]),
    emg_hz=st.sampled_from([400.0, 500.0, 1000.0]),
    acc_hz=st.sampled_from([4.0, 10.0, 50.0]),
    seconds=st.integers(1, 9),
    cuts=st.lists(st.floats(0.0, 1.0), max_size=6),
    bdf=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_any_split(
    tmp_path_factory: pytest.TempPathFactory,
    record_s: float,
    emg_hz: float,
    acc_hz: float,
    seconds: int,
    cuts: list[float],
    bdf: bool,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    lo, hi = BDF_DIGITAL_RANGE if bdf else (-32768, 32767)
    specs = [
        EdfSignalSpec("EMG", "uV", emg_hz, -2000.0, 2000.0, lo, hi),
        EdfSignalSpec("Accel X", "g", acc_hz, -4.0, 4.0, lo, hi),
    ]
    data = [
        rng.uniform(-2000, 2000, int(seconds * emg_hz)),
        rng.uniform(-4, 4, int(seconds * acc_hz)),
    ]
    path = tmp_path_factory.mktemp("rt") / "x.edf"
    with EdfWriter(path, specs, start=START, record_duration_s=record_s, bdf=bdf) as w:
        for a, b in itertools.pairwise([0.0, *sorted(cuts), 1.0]):
            w.write([x[round(a * x.size) : round(b * x.size)] for x in data])
    r = EdfReader(path)
    assert r.n_records == -(-seconds // record_s)
    got = [np.concatenate(p) for p in zip(*r.iter_blocks([0, 1], 3), strict=True)]
    for x, y, spec in zip(data, got, specs, strict=True):
        assert y.size == r.n_records * round(spec.rate_hz * record_s)
        np.testing.assert_allclose(y[: x.size], x, atol=_step(spec) / 2 + 1e-9, rtol=0)


@pytest.mark.parametrize("bdf", [False, True])
def test_iter_grouped_matches_iter_chunks(
    tmp_path: Path, rng: np.random.Generator, bdf: bool
) -> None:
    path = tmp_path / ("g.bdf" if bdf else "g.edf")
    _write(path, _signals(rng, 7.0), [0.5], bdf=bdf)
    r = EdfReader(path)
    grouped = list(r.iter_grouped([[0], [1, 2, 3]], 3, scales=[[1000.0], [1.0, 2.0, 3.0]]))
    chunks = list(r.iter_chunks([0, 1, 2, 3], 3))
    assert [(g.onset_s, g.n_records) for g in grouped] == [(c.onset_s, c.n_records) for c in chunks]
    for g, c in zip(grouped, chunks, strict=True):
        assert g.arrays[0].shape == (1, c.samples[0].size) and g.arrays[1].shape[0] == 3
        np.testing.assert_allclose(g.arrays[0][0], 1000.0 * c.samples[0], rtol=1e-12)
        for axis in range(3):
            np.testing.assert_allclose(
                g.arrays[1][axis], (axis + 1.0) * c.samples[1 + axis], rtol=1e-12, atol=1e-12
            )
    with pytest.raises(ValueError, match="different rates"):
        next(r.iter_grouped([[0, 1]]))
    with pytest.raises(ValueError, match="same shape"):
        next(r.iter_grouped([[0]], scales=[[1.0, 2.0]]))
