"""Heart rate, heart-rate variability and arousal from an ECG recording. NumPy + neurokit2; no Flask.

The steps:

1. Parse the uploaded text (:func:`parse_ecg`): a ``time,ecg`` table, one ECG
   column plus a sampling rate from the caller, or a BioVid biosignal file.
2. Clean the signal and find the R peaks with neurokit2 (``ecg_clean``, then
   ``ecg_peaks`` with artifact correction, Lipponen & Tarvainen 2019).
3. R-R intervals -> heart-rate series, mean heart rate, RMSSD and SDNN
   (Task Force of the ESC and NASPE 1996).
4. Signal quality: the mean correlation of each beat with the average beat
   (``ecg_quality`` "templatematch", after Orphanidou et al. 2015).
5. Arousal: heart rate and RMSSD after a baseline compared with the baseline
   (the file's first seconds, or a separate baseline recording).

Every input problem is an :class:`InputProblem` whose message is meant for the
clinician who sent the file.
"""
from __future__ import annotations

import functools
import io
import itertools
import math
import re
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from server.problems import InputProblem
from server.vitals.vital_signs import Vitals, heart_rate_vitals

# --- what a usable recording looks like ---
# Below 50 Hz a QRS complex (80-100 ms wide) spans fewer than five samples and R peaks
# cannot be placed; above 10 kHz is beyond what ECG recorders write for rhythm work
# (pacemaker-spike detection aside), so such a figure almost always means a wrong unit.
MIN_SAMPLING_HZ = 50.0
MAX_SAMPLING_HZ = 10_000.0
# BioVid Part A cuts each stimulus into 5.5 s windows (Walter et al. 2013), so the floor
# sits just below that; a shorter record holds too few beats for a rate or an RMSSD.
MIN_DURATION_S = 5.0
# Five beats give four R-R intervals and three successive differences: the fewest from
# which a mean rate and an RMSSD are more than one interval's noise (a 5 s window at 60 bpm).
MIN_BEATS = 5
# Physiological R-R range: 30 bpm (complete heart block) to 240 bpm (the rPPG module's
# upper bound, maximal exertion). Intervals outside it are detection errors and are left out.
MIN_BPM, MAX_BPM = 30.0, 240.0
# Orphanidou et al. (2015) call an ECG unusable when its longest R-R interval is more than
# 2.2 times its shortest. Noise read as beats does that; so can a very irregular rhythm
# (atrial fibrillation). Over long recordings the 2nd and 98th percentiles stand in for the
# extremes, so one ectopic beat in an hour does not void the whole file.
MAX_RR_SPREAD = 2.2
RR_SPREAD_PERCENTILE = 2.0

# --- signal quality (mean beat-to-template correlation, 0..1) ---
# Orphanidou et al. (2015): an average correlation below 0.66 is unacceptable -> "low".
QUALITY_MEDIUM_MIN = 0.66
# Measured here with neurokit2's ECGSYN simulator (5 recordings each, 55-130 bpm, 10 s and
# 60 s): noise 0.05-0.2 read 0.87-0.99, noise 0.5 read 0.64-0.80; white noise, random walk,
# mains hum and EMG-like bursts (20 seeds each) read 0.18-0.72.
QUALITY_HIGH_MIN = 0.85
# QRS energy lies below ~40 Hz, so the template correlation is computed at no more than
# 250 Hz: the shape survives and the slowest step (about 4 s per hour of 500 Hz ECG,
# measured here) gets two to forty times cheaper.
QUALITY_MAX_HZ = 250.0

# --- parsing ---
# BioVid Heat Pain Database biosignal files (Walter et al. 2013): tab-separated, header
# "time gsr ecg emg_trapezius emg_corrugator emg_zygomaticus", recorded at 512 Hz. A header
# with time, gsr and ecg is taken as BioVid (exports that drop the EMG channels included).
BIOVID_REQUIRED_COLUMNS = frozenset({"time", "gsr", "ecg"})
BIOVID_RATE_HZ = 512.0
# Two sampling-rate figures (the time column and the caller's, or BioVid's 512 Hz) that
# differ by more than this are two different claims: a 2 % rate error is a 2 % HR error.
RATE_AGREEMENT = 0.02
# A time column is regular when every timestamp lies within this many sample periods of
# an even grid; a dropped sample or two shifts beats by a few ms at most, a real gap more.
MAX_GRID_ERROR_PERIODS = 2.0
TIME_UNITS_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6}  # units a time column may be written in
_MS_TOKENS = {"ms", "msec", "millis", "milliseconds"}
_US_TOKENS = {"us", "µs", "usec", "micros", "microseconds"}
_TIME_NAMES = {"time", "t", "times", "timestamp", "seconds", "sec", "secs"}
_SNIFF_CHARS = 4096  # enough of the start of a file to recognise binary data

# --- arousal (a stated heuristic, not fitted to pain data) ---
# Sympathetic arousal raises the heart rate and vagal withdrawal lowers RMSSD. Each
# change counts from a floor (what happens by chance) to a full-scale value:
# - heart rate: rises up to 5 % are ignored (mean rate over short stretches drifts by a few
#   percent with breathing and posture); 25 % (e.g. 72 -> 90 bpm) is full scale. Design choices.
# - RMSSD: falls up to 40 % are ignored. Measured here: in steady simulated ECG (ECGSYN,
#   55-130 bpm, 60 recordings of 60 s) RMSSD after a 10 s baseline fell by up to 40 % in
#   95 % of recordings (46 % at most) with nothing changing. A fall to a fifth (80 %) is
#   full scale, a design choice.
HR_RISE_IGNORED = 0.05
HR_RISE_FOR_FULL_SCORE = 0.25
RMSSD_FALL_IGNORED = 0.40
RMSSD_FALL_FOR_FULL_SCORE = 0.80
# Equal weights: nothing here favours one sign of arousal over the other.
HR_WEIGHT = 0.5
RMSSD_WEIGHT = 0.5
DEFAULT_BASELINE_SECONDS = 10.0  # Settings.ecg_baseline_seconds overrides it

QUALITY_METHOD = (
    "mean correlation of each beat with the recording's average beat "
    "(neurokit2 ecg_quality 'templatematch', after Orphanidou et al. 2015)"
)
AROUSAL_METHOD = (
    f"Mean heart rate and RMSSD of the recording (after the baseline, when the baseline is its first "
    f"seconds) compared with the baseline. "
    f"Heart-rate part: a rise of {HR_RISE_IGNORED:.0%} or less counts 0, {HR_RISE_FOR_FULL_SCORE:.0%} or more "
    f"counts 1, linear between. RMSSD part: a fall of {RMSSD_FALL_IGNORED:.0%} or less counts 0, "
    f"{RMSSD_FALL_FOR_FULL_SCORE:.0%} or more counts 1, linear between. "
    f"Score = {HR_WEIGHT:g} x heart-rate part + {RMSSD_WEIGHT:g} x RMSSD part, from 0 (no change) to 1. "
    f"A heuristic, not validated against pain ratings."
)


# ---------------------------------------------------------------- parsing


@dataclass(frozen=True)
class EcgSignal:
    """An ECG trace on an even time grid, and where its sampling rate came from."""

    values: np.ndarray  # float64, one value per sample (the file's unit, usually mV)
    sampling_rate_hz: float
    format: str  # "time,ecg" | "ecg column" | "biovid"
    rate_source: str  # "time column" | "caller" | "biovid 512 Hz"
    notes: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds."""
        return len(self.values) / self.sampling_rate_hz


def parse_ecg(data: bytes, sampling_rate: float | None = None, label: str = "The ECG file") -> EcgSignal:
    """The ECG trace in ``data`` (CSV / TSV / BioVid text), checked for a usable rate and length.

    ``sampling_rate`` (Hz) is needed when the file has no time column; when it
    has one, the two must agree. ``label`` starts every error message.
    """
    if sampling_rate is not None:
        _check_rate(sampling_rate, "caller", label)
    text = _decode(data, label)
    lines = text.splitlines()
    content = list(itertools.islice(
        (i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), 2))
    if not content:
        raise InputProblem("bad_ecg_file", f"{label} has no values in it.")
    first = content[0]
    has_header = not all(_is_number(f) for f in _split(lines[first], _delimiter(lines[first])))
    if has_header and (len(content) < 2 or not _starts_with_number(lines[content[1]])):
        raise InputProblem(
            "bad_ecg_file",
            f"{label} is not a table of numbers. Send CSV with columns time,ecg, or one column of ECG values.",
        )
    # The delimiter comes from the first row of values: a header such as "ECG (mV)" has
    # spaces in it that do not separate columns.
    delimiter = _delimiter(lines[content[1] if has_header else first])
    count = len(_split(lines[content[1] if has_header else first], delimiter))
    names: list[str] = []
    if has_header:
        names = [lines[first].strip()] if count == 1 else _split(lines[first], delimiter)
        names = [_column_name(n) for n in names]
    if delimiter == ";" and "," in text:
        text = text.replace(",", ".")  # semicolon tables use the decimal comma (European spreadsheets)

    biovid = has_header and BIOVID_REQUIRED_COLUMNS <= set(names)
    ecg_col, time_col = _columns(names, count, label)
    columns = [ecg_col] if time_col is None else [time_col, ecg_col]
    table = _load(text, delimiter, first + (1 if has_header else 0), columns, label)
    if time_col is not None and not has_header and not _increasing(table[:, 0]):
        raise InputProblem(
            "bad_ecg_file",
            f"{label} has two columns without a header. Add a header line 'time,ecg' (time in seconds).",
        )
    ecg = table[:, -1]
    bad = int(np.count_nonzero(~np.isfinite(ecg)))
    if bad:
        raise InputProblem("bad_ecg_file", f"{label} has {bad} ECG values that are not numbers (e.g. empty or 'nan').")

    notes: list[str] = []
    if biovid:
        rate, source = _biovid_rate(table[:, 0], sampling_rate, notes)
        fmt = "biovid"
    elif time_col is not None:
        unit = _time_unit(names[time_col]) if has_header else TIME_UNITS_S["s"]
        rate = _rate_from_times(table[:, 0] * unit, label)
        source, fmt = "time column", "time,ecg"
    else:
        if sampling_rate is None:
            raise InputProblem(
                "missing_field",
                f"{label} has ECG values but no time column: give its sampling rate in Hz as 'sampling_rate'.",
            )
        rate, source, fmt = sampling_rate, "caller", "ecg column"
    if sampling_rate is not None and source == "time column" and abs(sampling_rate / rate - 1.0) > RATE_AGREEMENT:
        raise InputProblem(
            "sampling_rate_mismatch",
            f"{label}: its time column gives {rate:.1f} Hz but sampling_rate says {sampling_rate:g} Hz. "
            "Leave out sampling_rate or correct it.",
        )
    _check_rate(rate, source, label)
    signal = EcgSignal(ecg.astype(np.float64), float(rate), fmt, source, tuple(notes))
    if signal.duration_s < MIN_DURATION_S:
        raise InputProblem(
            "ecg_too_short",
            f"{label} holds {signal.duration_s:.1f} s of ECG; at least {MIN_DURATION_S:g} s are needed.",
        )
    return signal


def _decode(data: bytes, label: str) -> str:
    if not data or not data.strip():
        raise InputProblem("bad_ecg_file", f"{label} is empty.")
    if b"\x00" in data[:_SNIFF_CHARS]:
        raise InputProblem("bad_ecg_file", f"{label} is a binary file; send the ECG as CSV text.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # numbers are ASCII; only header words could be affected


def _delimiter(line: str) -> str | None:
    """Tab, semicolon or comma, in that order of preference; None splits on spaces."""
    for candidate in ("\t", ";", ","):
        if candidate in line:
            return candidate
    return None


def _split(line: str, delimiter: str | None) -> list[str]:
    parts = line.split(delimiter) if delimiter else line.split()
    return [p.strip().strip("\"'").strip() for p in parts]


def _is_number(field: str) -> bool:
    try:
        float(field.replace(",", "."))
    except ValueError:
        return False
    return True


def _starts_with_number(line: str) -> bool:
    """Whether a line's first field (whatever the delimiter) is a number: a row of values, not words."""
    return _is_number(re.split(r"[\t;,\s]+", line.strip().strip("\"'"))[0])


def _column_name(field: str) -> str:
    return field.strip().strip("\"'").strip().lower()


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-zµ0-9]+", name) if t]


def _is_time_name(name: str) -> bool:
    tokens = _tokens(name)
    return bool(tokens) and tokens[0] in _TIME_NAMES


def _time_unit(name: str) -> float:
    """Seconds per unit of a time column, from a unit in its name (``time_ms``, ``time (us)``)."""
    tokens = set(_tokens(name)[1:])
    if tokens & _MS_TOKENS:
        return TIME_UNITS_S["ms"]
    if tokens & _US_TOKENS:
        return TIME_UNITS_S["us"]
    return TIME_UNITS_S["s"]


def _columns(names: list[str], count: int, label: str) -> tuple[int, int | None]:
    """(ECG column, time column or None) from the header names, or from the column count."""
    if not names:
        if count == 1:
            return 0, None
        if count == 2:
            return 1, 0
        raise InputProblem(
            "bad_ecg_file",
            f"{label} has {count} columns and no header. Add a header line naming the 'ecg' and 'time' columns.",
        )
    time_col = next((i for i, n in enumerate(names) if _is_time_name(n)), None)
    if "ecg" in names:
        return names.index("ecg"), time_col
    ecg_like = [i for i, n in enumerate(names) if "ecg" in _tokens(n) or n.startswith("ecg")]
    if ecg_like:
        return ecg_like[0], time_col
    others = [i for i in range(count) if i != time_col]
    if len(others) == 1:
        return others[0], time_col
    shown = ", ".join(n or "(blank)" for n in names)
    raise InputProblem("bad_ecg_file", f"{label} has no ECG column (columns: {shown}). Name the ECG column 'ecg'.")


def _load(text: str, delimiter: str | None, skip: int, columns: list[int], label: str) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns on an empty table; that is reported below
            table = np.loadtxt(
                io.StringIO(text), delimiter=delimiter, skiprows=skip, usecols=columns, ndmin=2,
                comments="#", quotechar='"', dtype=np.float64,
            )
    except (ValueError, IndexError) as exc:
        detail = str(exc).split(";")[0].rstrip(".")  # numpy's hint about `usecols` is for programmers
        raise InputProblem(
            "bad_ecg_file",
            f"{label} is not a table of numbers ({detail}). Send CSV with columns time,ecg or one ECG column.",
        ) from None
    if table.shape[0] == 0:
        raise InputProblem("bad_ecg_file", f"{label} has a header but no values.")
    return table


def _increasing(values: np.ndarray) -> bool:
    return len(values) > 1 and bool(np.all(np.diff(values) > 0))


def _rate_from_times(times_s: np.ndarray, label: str) -> float:
    """Sampling rate of a time column in seconds, refusing one that is not evenly spaced.

    The rate is the sample count over the time span, which is the median step's
    rate for evenly spaced samples but stays exact when timestamps are rounded
    (512 Hz written to the millisecond has steps of 1 and 2 ms, whose median is
    2 ms = 500 Hz). Evenness is then checked against that grid.
    """
    if len(times_s) < 2:
        raise InputProblem("ecg_too_short", f"{label} holds a single sample.")
    if not np.all(np.isfinite(times_s)):
        raise InputProblem("bad_ecg_file", f"{label} has times that are not numbers.")
    steps = np.diff(times_s)
    backwards = np.flatnonzero(steps <= 0)
    if backwards.size:
        k = int(backwards[0])
        raise InputProblem(
            "irregular_sampling",
            f"{label}: the time does not increase after sample {k + 1} ({times_s[k]:g} -> {times_s[k + 1]:g}).",
        )
    median_step = float(np.median(steps))
    rate = (len(times_s) - 1) / float(times_s[-1] - times_s[0])
    if not MIN_SAMPLING_HZ <= 1.0 / median_step <= MAX_SAMPLING_HZ:
        return 1.0 / median_step  # _check_rate explains the implausible figure
    grid = times_s[0] + np.arange(len(times_s)) / rate
    error = np.abs(times_s - grid)
    worst = int(np.argmax(error))
    if error[worst] > MAX_GRID_ERROR_PERIODS / rate:
        raise InputProblem(
            "irregular_sampling",
            f"{label}: the samples are not evenly spaced in time (near t = {times_s[worst] - times_s[0]:.2f} s "
            f"the time is off by {error[worst]:.3f} s): gaps or a changing rate. Send a gap-free recording.",
        )
    return rate


def _biovid_rate(times: np.ndarray, sampling_rate: float | None, notes: list[str]) -> tuple[float, str]:
    """The rate of a BioVid file: the caller's figure if given, else BioVid's documented 512 Hz.

    Decision: BioVid's time column has been seen in microseconds and in
    milliseconds and carries no unit, so it does not decide the rate; it only
    confirms it. It is read in seconds, milliseconds and microseconds, and if one
    of them gives the chosen rate (within RATE_AGREEMENT) that is said in
    ``rate_source``; if none does, the rate is still used and a note says the time
    column disagrees (a resampled export needs its rate given as ``sampling_rate``).
    """
    rate = BIOVID_RATE_HZ if sampling_rate is None else sampling_rate
    source = f"biovid {BIOVID_RATE_HZ:g} Hz" if sampling_rate is None else "caller"
    for unit, seconds in TIME_UNITS_S.items():
        try:
            column_rate = _rate_from_times(times * seconds, "BioVid time column")
        except InputProblem:
            break  # uneven or not increasing: no unit will make it agree
        if abs(column_rate / rate - 1.0) <= RATE_AGREEMENT:
            return rate, f"{source} (time column in {unit} agrees)"
    notes.append(f"The time column does not give {rate:g} Hz in s, ms or us; {rate:g} Hz was used. "
                 "If the file was resampled, give its rate as sampling_rate.")
    return rate, source


def _check_rate(rate: float, source: str, label: str) -> None:
    if MIN_SAMPLING_HZ <= rate <= MAX_SAMPLING_HZ:
        return
    hint = ""
    if source == "time column" and rate < MIN_SAMPLING_HZ:
        hint = " Is the time in milliseconds? Then name the column 'time_ms'."
    raise InputProblem(
        "implausible_sampling_rate",
        f"{label}: a sampling rate of {rate:g} Hz is not plausible for an ECG "
        f"(expected {MIN_SAMPLING_HZ:g}-{MAX_SAMPLING_HZ:g} Hz).{hint}",
    )


# ---------------------------------------------------------------- analysis


@dataclass(frozen=True)
class SegmentStats:
    """Heart rate and variability over one stretch of a recording (None when too few beats)."""

    start_s: float
    end_s: float
    intervals: int  # R-R intervals used
    heart_rate_bpm: float | None
    rmssd_ms: float | None
    sdnn_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, rounded."""
        return {
            "start_s": round(self.start_s, 2),
            "end_s": round(self.end_s, 2),
            "intervals": self.intervals,
            "heart_rate_bpm": _round(self.heart_rate_bpm, 1),
            "rmssd_ms": _round(self.rmssd_ms, 1),
            "sdnn_ms": _round(self.sdnn_ms, 1),
        }


@dataclass(frozen=True)
class EcgAnalysis:
    """R peaks of one recording and what follows from them."""

    beat_times_s: np.ndarray  # R-peak times from the first sample
    rr_s: np.ndarray  # R-R intervals; rr_s[i] ends at beat_times_s[i + 1]
    rr_valid: np.ndarray  # bool per interval: inside MIN_BPM..MAX_BPM
    duration_s: float
    quality_score: float | None  # 0..1
    rhythm_ok: bool  # R-R spread within MAX_RR_SPREAD
    overall: SegmentStats

    @property
    def quality_level(self) -> str:
        """high | medium | low from the named cut points; always low when the rhythm check fails."""
        score = self.quality_score
        if score is None or not self.rhythm_ok or score < QUALITY_MEDIUM_MIN:
            return "low"
        return "high" if score >= QUALITY_HIGH_MIN else "medium"

    @property
    def reason(self) -> str | None:
        """Why no heart rate is given, or None."""
        if self.rhythm_ok:
            return None
        return (f"no consistent heartbeat: beat-to-beat intervals vary more than {MAX_RR_SPREAD:g}-fold, which "
                "is what noise looks like (a very irregular rhythm such as atrial fibrillation does it too)")

    def segment(self, start_s: float, end_s: float) -> SegmentStats:
        """Statistics of the intervals that end within (start_s, end_s]."""
        ends = self.beat_times_s[1:]
        inside = (ends > start_s) & (ends <= end_s)
        return _stats(self.rr_s, self.rr_valid & inside, start_s, end_s)


def analyze_signal(signal: EcgSignal, label: str = "The ECG file") -> EcgAnalysis:
    """Clean, find R peaks, and measure rate, variability and quality of a whole recording."""
    rate = signal.sampling_rate_hz
    values = signal.values
    if float(np.ptp(values)) == 0.0:
        raise InputProblem("flat_ecg", f"{label} is a flat line: every value is the same. Check the electrodes.")
    nk = _neurokit()
    try:
        with warnings.catch_warnings():
            # neurokit2 warns through pandas (chained assignment, future behaviour); nothing
            # the clinician can act on. catch_warnings is process-wide, so a warning raised
            # by another thread meanwhile may be hidden too: acceptable for warnings.
            warnings.simplefilter("ignore")
            cleaned = np.asarray(nk.ecg_clean(values, sampling_rate=rate), dtype=np.float64)
            _, info = nk.ecg_peaks(cleaned, sampling_rate=rate, correct_artifacts=True)
            peaks = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
    except (ValueError, IndexError, TypeError, ZeroDivisionError):
        peaks = np.zeros(0, np.int64)  # neurokit2 fails on signals with no beat-like shape
    if len(peaks) < 2:
        raise InputProblem("flat_ecg", f"{label} shows no heartbeats (no R peaks found). Check the electrodes.")
    if len(peaks) < MIN_BEATS:
        raise InputProblem(
            "too_few_beats",
            f"{label} shows {len(peaks)} heartbeats in {signal.duration_s:.1f} s; at least {MIN_BEATS} are needed.",
        )
    beat_times = peaks / rate
    rr = np.diff(beat_times)
    valid = (rr >= 60.0 / MAX_BPM) & (rr <= 60.0 / MIN_BPM)
    if np.count_nonzero(valid) < MIN_BEATS - 1:
        raise InputProblem(
            "too_few_beats",
            f"{label} has too few plausible beat-to-beat intervals ({int(np.count_nonzero(valid))}); "
            f"at least {MIN_BEATS - 1} between {MIN_BPM:g} and {MAX_BPM:g} bpm are needed.",
        )
    low, high = np.percentile(rr[valid], [RR_SPREAD_PERCENTILE, 100.0 - RR_SPREAD_PERCENTILE])
    rhythm_ok = bool(high / low <= MAX_RR_SPREAD)
    quality = _quality(nk, cleaned, peaks, rate)
    overall = _stats(rr, valid, 0.0, signal.duration_s)
    if not rhythm_ok:
        overall = SegmentStats(0.0, signal.duration_s, overall.intervals, None, None, None)
    return EcgAnalysis(beat_times, rr, valid, signal.duration_s, quality, rhythm_ok, overall)


@functools.cache
def _neurokit() -> Any:
    """neurokit2, imported on first use: it pulls in pandas, scikit-learn and matplotlib
    (~3 s), which the server should not pay at start-up for a rarely used endpoint."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # it imports scipy.misc, deprecated in SciPy
        import neurokit2
    return neurokit2


def _quality(nk: Any, cleaned: np.ndarray, peaks: np.ndarray, rate: float) -> float | None:
    """Mean beat-to-template correlation, clipped to 0..1 (None if neurokit2 cannot segment beats)."""
    factor = max(1, math.ceil(rate / QUALITY_MAX_HZ))
    if factor > 1:
        from scipy.signal import resample_poly  # anti-aliased decimation

        cleaned = resample_poly(cleaned, 1, factor)
        peaks = np.minimum(np.round(peaks / factor).astype(np.int64), len(cleaned) - 1)
        rate = rate / factor
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # see analyze_signal
            per_sample = np.asarray(
                nk.ecg_quality(cleaned, rpeaks=peaks, sampling_rate=rate, method="templatematch"), dtype=np.float64
            )
    except (ValueError, IndexError, TypeError, ZeroDivisionError):
        return None
    if not np.any(np.isfinite(per_sample)):
        return None
    return float(np.clip(np.nanmean(per_sample), 0.0, 1.0))


def _stats(rr: np.ndarray, use: np.ndarray, start_s: float, end_s: float) -> SegmentStats:
    """Mean HR, RMSSD and SDNN of the intervals flagged in ``use``.

    RMSSD only takes differences between neighbouring intervals that are both
    used, so a rejected interval never makes a false jump.
    """
    count = int(np.count_nonzero(use))
    if count < MIN_BEATS - 1:
        return SegmentStats(start_s, end_s, count, None, None, None)
    chosen = rr[use]
    pairs = use[:-1] & use[1:]
    successive = np.diff(rr)[pairs]
    rmssd = float(np.sqrt(np.mean(successive**2))) * 1000.0 if successive.size else None
    return SegmentStats(
        start_s, end_s, count,
        heart_rate_bpm=60.0 / float(np.mean(chosen)),
        rmssd_ms=rmssd,
        sdnn_ms=float(np.std(chosen, ddof=1)) * 1000.0,
    )


# ---------------------------------------------------------------- arousal


@dataclass(frozen=True)
class Arousal:
    """Arousal relative to a baseline; ``score`` is None when it cannot be measured (``reason``)."""

    score: float | None
    baseline_source: str  # "first_seconds" | "upload"
    baseline: SegmentStats | None
    compared: SegmentStats | None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the method in words."""
        base, comp = self.baseline, self.compared
        hr_change = rmssd_change = None
        if base and comp and base.heart_rate_bpm and comp.heart_rate_bpm:
            hr_change = 100.0 * (comp.heart_rate_bpm / base.heart_rate_bpm - 1.0)
        if base and comp and base.rmssd_ms and comp.rmssd_ms is not None:
            rmssd_change = 100.0 * (comp.rmssd_ms / base.rmssd_ms - 1.0)
        return {
            "score": _round(self.score, 2),
            "baseline": None if base is None else {"source": self.baseline_source, **base.to_dict()},
            "compared": None if comp is None else comp.to_dict(),
            "heart_rate_change_pct": _round(hr_change, 1),
            "rmssd_change_pct": _round(rmssd_change, 1),
            "method": AROUSAL_METHOD,
            "reason": self.reason,
        }


def arousal_score(baseline: SegmentStats, compared: SegmentStats) -> float | None:
    """The AROUSAL_METHOD score, 0..1, or None when either stretch lacks a heart rate."""
    if baseline.heart_rate_bpm is None or compared.heart_rate_bpm is None:
        return None
    hr_part = heart_rate_rise_score(baseline.heart_rate_bpm, compared.heart_rate_bpm)
    rmssd_part = 0.0
    if baseline.rmssd_ms and compared.rmssd_ms is not None:  # a zero baseline RMSSD cannot fall
        rmssd_fall = 1.0 - compared.rmssd_ms / baseline.rmssd_ms
        rmssd_part = _ramp(rmssd_fall, RMSSD_FALL_IGNORED, RMSSD_FALL_FOR_FULL_SCORE)
    return HR_WEIGHT * hr_part + RMSSD_WEIGHT * rmssd_part


def heart_rate_rise_score(baseline_bpm: float, bpm: float) -> float:
    """The heart-rate part of AROUSAL_METHOD, 0..1: 0 up to a HR_RISE_IGNORED rise, 1 from HR_RISE_FOR_FULL_SCORE.

    Shared with the camera heart rate (rPPG), whose variability is too noisy to use, so both
    sources judge a rise on the same scale.
    """
    return _ramp(bpm / baseline_bpm - 1.0, HR_RISE_IGNORED, HR_RISE_FOR_FULL_SCORE)


def _ramp(value: float, zero_at: float, one_at: float) -> float:
    """0 up to ``zero_at``, 1 from ``one_at``, linear between."""
    return float(np.clip((value - zero_at) / (one_at - zero_at), 0.0, 1.0))


def arousal_within(analysis: EcgAnalysis, baseline_seconds: float) -> Arousal:
    """Arousal of the rest of a recording against its first ``baseline_seconds``."""
    source = "first_seconds"
    if analysis.overall.heart_rate_bpm is None:
        return Arousal(None, source, None, None, reason=analysis.reason)
    if baseline_seconds >= analysis.duration_s:
        return Arousal(None, source, None, None, reason=(
            f"the recording ({analysis.duration_s:.1f} s) is not longer than the {baseline_seconds:g} s baseline; "
            "upload a separate baseline recording or a longer one"))
    baseline = analysis.segment(0.0, baseline_seconds)
    compared = analysis.segment(baseline_seconds, analysis.duration_s)
    return _arousal(baseline, compared, source)


def arousal_against(analysis: EcgAnalysis, baseline: EcgAnalysis) -> Arousal:
    """Arousal of a whole recording against a separate baseline recording."""
    if analysis.overall.heart_rate_bpm is None:
        return Arousal(None, "upload", baseline.overall, analysis.overall, reason=analysis.reason)
    if baseline.overall.heart_rate_bpm is None:
        return Arousal(None, "upload", baseline.overall, analysis.overall,
                       reason=f"baseline recording: {baseline.reason}")
    return _arousal(baseline.overall, analysis.overall, "upload")


def _arousal(baseline: SegmentStats, compared: SegmentStats, source: str) -> Arousal:
    for name, stats in (("baseline", baseline), ("compared stretch", compared)):
        if stats.heart_rate_bpm is None:
            return Arousal(None, source, baseline, compared, reason=(
                f"the {name} ({stats.end_s - stats.start_s:.1f} s) holds {stats.intervals} usable beat-to-beat "
                f"intervals; at least {MIN_BEATS - 1} are needed"))
    return Arousal(arousal_score(baseline, compared), source, baseline, compared)


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class EcgReport:
    """Everything the ECG endpoint answers: the recording, its vitals and the arousal."""

    signal: EcgSignal
    analysis: EcgAnalysis
    arousal: Arousal
    timing_ms: dict[str, float]

    @property
    def vitals(self) -> Vitals:
        """The recording's heart rate as the vital signs a patient's record keeps."""
        a = self.analysis
        return heart_rate_vitals(a.overall.heart_rate_bpm, a.quality_level, None, a.duration_s, a.reason)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; unmeasurable values are null with a reason, never invented."""
        a = self.analysis
        overall = a.overall
        series = []
        if overall.heart_rate_bpm is not None:
            ends = a.beat_times_s[1:]
            series = [{"t_s": round(float(t), 3), "bpm": round(60.0 / float(r), 1)}
                      for t, r, ok in zip(ends, a.rr_s, a.rr_valid) if ok]
        return {
            "ecg": {
                "format": self.signal.format,
                "sampling_rate_hz": round(self.signal.sampling_rate_hz, 3),
                "rate_source": self.signal.rate_source,
                "duration_s": round(self.signal.duration_s, 2),
                "samples": len(self.signal.values),
                "beats": len(a.beat_times_s),
                "rejected_intervals": int(np.count_nonzero(~a.rr_valid)),
                "notes": list(self.signal.notes),
            },
            "vitals": {
                "source": "ecg",
                "heart_rate_bpm": _round(overall.heart_rate_bpm, 1),
                "rmssd_ms": _round(overall.rmssd_ms, 1),
                "sdnn_ms": _round(overall.sdnn_ms, 1),
                "quality": a.quality_level,
                "quality_score": _round(a.quality_score, 2),
                "quality_method": QUALITY_METHOD,
                "window_s": round(a.duration_s, 1),
                "reason": a.reason,
                "series": series,
            },
            "arousal": self.arousal.to_dict(),
            "timing_ms": {name: round(ms, 1) for name, ms in self.timing_ms.items()},
        }


def analyze_ecg(
    data: bytes,
    sampling_rate: float | None = None,
    *,
    baseline: bytes | None = None,
    baseline_sampling_rate: float | None = None,
    baseline_seconds: float = DEFAULT_BASELINE_SECONDS,
) -> EcgReport:
    """Parse and analyse an ECG upload, with arousal against ``baseline`` or the first ``baseline_seconds``."""
    if not (math.isfinite(baseline_seconds) and baseline_seconds > 0):
        raise InputProblem("bad_parameter", "'baseline_seconds' must be a number of seconds above 0.")
    started = time.perf_counter()
    signal = parse_ecg(data, sampling_rate)
    base_signal = None
    if baseline is not None:
        base_signal = parse_ecg(baseline, baseline_sampling_rate or sampling_rate, label="The baseline file")
    parsed = time.perf_counter()
    analysis = analyze_signal(signal)
    if base_signal is not None:
        arousal = arousal_against(analysis, analyze_signal(base_signal, label="The baseline file"))
    else:
        arousal = arousal_within(analysis, baseline_seconds)
    done = time.perf_counter()
    timing = {"parse": 1000 * (parsed - started), "analysis": 1000 * (done - parsed), "total": 1000 * (done - started)}
    return EcgReport(signal, analysis, arousal, timing)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)
