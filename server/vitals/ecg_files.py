"""Reading an uploaded ECG file: a ``time,ecg`` table, one ECG column with a sampling rate, or a BioVid file.

NumPy only; no Flask. Every input problem is an :class:`InputProblem` whose
message is meant for the clinician who sent the file. The analysis of the
parsed trace is ``server/vitals/ecg.py``.
"""
from __future__ import annotations

import io
import itertools
import re
import warnings
from dataclasses import dataclass

import numpy as np

from server.problems import N_, InputProblem, Sentence

# --- what a usable recording looks like ---
# Below 50 Hz a QRS complex (80-100 ms wide) spans fewer than five samples and R peaks
# cannot be placed; above 10 kHz is beyond what ECG recorders write for rhythm work
# (pacemaker-spike detection aside), so such a figure almost always means a wrong unit.
MIN_SAMPLING_HZ = 50.0
MAX_SAMPLING_HZ = 10_000.0
# BioVid Part A cuts each stimulus into 5.5 s windows (Walter et al. 2013), so the floor
# sits just below that; a shorter record holds too few beats for a rate or an RMSSD.
MIN_DURATION_S = 5.0

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
        raise InputProblem("bad_ecg_file", "%(label)s has no values in it.", label=label)
    first = content[0]
    has_header = not all(_is_number(f) for f in _split(lines[first], _delimiter(lines[first])))
    if has_header and (len(content) < 2 or not _starts_with_number(lines[content[1]])):
        raise InputProblem(
            "bad_ecg_file",
            "%(label)s is not a table of numbers. Send CSV with columns time,ecg, or one column of ECG values.",
            label=label,
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
            "%(label)s has two columns without a header. Add a header line 'time,ecg' (time in seconds).",
            label=label,
        )
    ecg = table[:, -1]
    bad = int(np.count_nonzero(~np.isfinite(ecg)))
    if bad:
        raise InputProblem(
            "bad_ecg_file", "%(label)s has %(bad)s ECG values that are not numbers (e.g. empty or 'nan').",
            label=label, bad=bad,
        )

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
                "%(label)s has ECG values but no time column: give its sampling rate in Hz as 'sampling_rate'.",
                label=label,
            )
        rate, source, fmt = sampling_rate, "caller", "ecg column"
    if sampling_rate is not None and source == "time column" and abs(sampling_rate / rate - 1.0) > RATE_AGREEMENT:
        raise InputProblem(
            "sampling_rate_mismatch",
            "%(label)s: its time column gives %(rate)s Hz but sampling_rate says %(given)s Hz. "
            "Leave out sampling_rate or correct it.",
            label=label, rate=f"{rate:.1f}", given=f"{sampling_rate:g}",
        )
    _check_rate(rate, source, label)
    signal = EcgSignal(ecg.astype(np.float64), float(rate), fmt, source, tuple(notes))
    if signal.duration_s < MIN_DURATION_S:
        raise InputProblem(
            "ecg_too_short",
            "%(label)s holds %(seconds)s s of ECG; at least %(least)s s are needed.",
            label=label, seconds=f"{signal.duration_s:.1f}", least=f"{MIN_DURATION_S:g}",
        )
    return signal


def _decode(data: bytes, label: str) -> str:
    if not data or not data.strip():
        raise InputProblem("bad_ecg_file", "%(label)s is empty.", label=label)
    if b"\x00" in data[:_SNIFF_CHARS]:
        raise InputProblem("bad_ecg_file", "%(label)s is a binary file; send the ECG as CSV text.", label=label)
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
            "%(label)s has %(count)s columns and no header. Add a header line naming the 'ecg' and 'time' columns.",
            label=label, count=count,
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
    raise InputProblem("bad_ecg_file", "%(label)s has no ECG column (columns: %(columns)s). Name the ECG column 'ecg'.",
                       label=label, columns=shown)


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
            "%(label)s is not a table of numbers (%(detail)s). Send CSV with columns time,ecg or one ECG column.",
            label=label, detail=detail,
        ) from None
    if table.shape[0] == 0:
        raise InputProblem("bad_ecg_file", "%(label)s has a header but no values.", label=label)
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
        raise InputProblem("ecg_too_short", "%(label)s holds a single sample.", label=label)
    if not np.all(np.isfinite(times_s)):
        raise InputProblem("bad_ecg_file", "%(label)s has times that are not numbers.", label=label)
    steps = np.diff(times_s)
    backwards = np.flatnonzero(steps <= 0)
    if backwards.size:
        k = int(backwards[0])
        raise InputProblem(
            "irregular_sampling",
            "%(label)s: the time does not increase after sample %(sample)s (%(before)s -> %(after)s).",
            label=label, sample=k + 1, before=f"{times_s[k]:g}", after=f"{times_s[k + 1]:g}",
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
            "%(label)s: the samples are not evenly spaced in time (near t = %(near)s s "
            "the time is off by %(off)s s): gaps or a changing rate. Send a gap-free recording.",
            label=label, near=f"{times_s[worst] - times_s[0]:.2f}", off=f"{error[worst]:.3f}",
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
            return rate, Sentence(N_("%(source)s (time column in %(unit)s agrees)"), source=source, unit=unit)
    notes.append(Sentence(N_("The time column does not give %(rate)s Hz in s, ms or us; %(rate)s Hz was used. "
                             "If the file was resampled, give its rate as sampling_rate."), rate=f"{rate:g}"))
    return rate, source


def _check_rate(rate: float, source: str, label: str) -> None:
    if MIN_SAMPLING_HZ <= rate <= MAX_SAMPLING_HZ:
        return
    values = {"label": label, "rate": f"{rate:g}", "low": f"{MIN_SAMPLING_HZ:g}", "high": f"{MAX_SAMPLING_HZ:g}"}
    if source == "time column" and rate < MIN_SAMPLING_HZ:  # with a hint
        raise InputProblem(
            "implausible_sampling_rate",
            "%(label)s: a sampling rate of %(rate)s Hz is not plausible for an ECG (expected %(low)s-%(high)s Hz). "
            "Is the time in milliseconds? Then name the column 'time_ms'.",
            **values,
        )
    raise InputProblem(
        "implausible_sampling_rate",
        "%(label)s: a sampling rate of %(rate)s Hz is not plausible for an ECG (expected %(low)s-%(high)s Hz).",
        **values,
    )
