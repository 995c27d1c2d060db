"""Settings for PainScope, read once from ``PAINSCOPE_*`` environment variables.

Every default works out of the box on one CPU machine. Each field documents its
unit and where its default comes from.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "PAINSCOPE_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
PAIN_HEAD_FILE_NAME = "pain_head.json"
# SHA-256 of the committed models/pain_head.json (python -m server.training.fit_pain_head prints it).
PAIN_HEAD_SHA256 = "98c6a6964934aaa996c74d37adb5f05517f474ca06d2b58f1c6929aa3509c233"


@dataclass(frozen=True)
class Settings:
    """Run-time configuration. Field ``x`` is read from ``PAINSCOPE_X``."""

    host: str = "127.0.0.1"
    port: int = 5000
    secret_key: str = ""  # empty: a random key made once and kept in instance_dir/secret_key (mode 0600)

    # --- input limits (bad input gets a 4xx, never a crash) ---
    # whole request, except a video upload's (max_video_bytes plus VIDEO_FORM_SLACK_BYTES, server/web/requests/uploads.py)
    max_upload_bytes: int = 64 * 1024 * 1024
    max_image_bytes: int = 20 * 1024 * 1024  # a 24 MP phone JPEG is ~10 MB
    max_image_pixels: int = 40_000_000  # 40 MP: above any phone camera in wards; caps decode memory (~120 MB RGB)
    # Memory one image's decode may take: pixels x the bytes a pixel takes in the decoder (16-bit, alpha,
    # palette, CMYK; server/vision/frames.py decode_bytes). 160 MB is what an 8-bit RGB image at the
    # pixel cap costs (Pillow keeps RGB as 4 bytes a pixel); above it 413 too_large says why.
    max_decode_bytes: int = 160_000_000
    min_image_side: int = 32  # px; below this no face landmarks can be found (Face Mesh input is 192 px)
    analysis_max_side: int = 1280  # px; images are downscaled to this before landmarks (Face Mesh works at 192 px)
    # A video goes to a private spool file as it arrives (never whole in memory), so the cap is the disk's:
    # 30 min of 640x480 phone H.264 (~2 Mbit/s) is ~450 MB.
    max_video_bytes: int = 512 * 1024 * 1024
    max_video_seconds: float = 1800.0  # 30 min: a bedside observation runs several minutes
    video_sample_fps: float = 5.0  # frames analysed per second of video (facial actions last >= 0.5 s)
    max_reference_images: int = 5

    # --- analysis ---
    estimator: str = "geometry"
    # PSPI boundaries none|mild|moderate|severe, e.g. "0.5,5.5,10.5". Empty: the fitted pain head's bands
    # (chosen by leave-one-subject-out with the head; docs/validation.md "How well it reads pain").
    level_thresholds: tuple[float, ...] = ()
    analysis_threads: int = 2  # OS threads for CPU-bound analysis (one per core here)
    # Analysis calls (photos, videos, ECGs, bodies, heart-rate frames) one account may have under way at
    # once (429 too_many_analyses beyond): twice the analysis threads, so one account can keep both busy
    # with one more waiting each, never a queue of dozens in front of the ward (issue 25).
    max_analyses_per_user: int = 4

    # --- learned models (checkpoints in models_dir; none ship with PainScope) ---
    model_threads: int = 2  # intra-op threads of torch / ONNX Runtime per inference (cores here)
    resnet18_model: str = ""  # checkpoint file to serve as "resnet18"; empty: the newest one
    lstm_model: str = ""  # checkpoint file to serve as "lstm"; empty: the newest one
    resnet_gru_model: str = ""  # checkpoint file to serve as "resnet_gru"; empty: the newest one
    ecg_transformer_model: str = ""  # checkpoint file that reads ECG uploads; empty: the newest one
    # ONNX body-part segmenter in models_dir (python -m server.training.segment); when the file
    # is there the body endpoints label parts with it instead of pose bones. Empty: never.
    segmentation_model: str = "segmentation.onnx"
    # estimator:weight pairs of the "fusion" estimator; equal by default, as no
    # part has been shown better than another on data PainScope can ship.
    fusion_weights: str = "geometry:1,resnet18:1,lstm:1,resnet_gru:1"
    # Share of the heart rate (ECG or camera) in "fusion", the face having the rest:
    # 0.2 / 0.8 as in the face + ECG seed system. 0 turns physiology off.
    physiology_weight: float = 0.2
    # With an ecg_transformer checkpoint: the ECG network's share in the logit fusion with
    # resnet_gru, the face network having the rest (0.2 / 0.8, the BioVid face + ECG system).
    ecg_model_weight: float = 0.2
    # The camera heart rate's resting value: the median of a stream's first this-many
    # seconds of good readings (three 10 s windows), unless "Calibrate neutral" sets it.
    resting_heart_rate_seconds: float = 30.0

    # --- live stream ---
    live_max_fps: float = 15.0  # client capture cap; Face Mesh + geometry run at >= 25 fps per core
    live_jpeg_quality: float = 0.8
    # Live streams one account may have open at once (`start` beyond: too_many_streams). A stream holds
    # ~54 MB (two MediaPipe graphs and its buffers; issue 25 measured 50 on one token at 2.7 GB); a bedside
    # tablet needs one, so 4 leaves room for a few devices on a shared token. 0: no cap.
    live_max_streams_per_user: int = 4
    rolling_baseline_seconds: float = 60.0

    # --- heart rate from the face (rPPG) ---
    rppg_method: str = "pos"  # pos | chrom | green; POS is the most robust to lighting (Wang et al. 2017)
    rppg_window_s: float = 10.0  # spectral window: 6 bpm native resolution
    rppg_max_sessions: int = 100  # frame-posting sessions open at once (429 beyond)
    # ...and per account: a tenth, so one device or script cannot take every slot from the ward
    # (a bedside device needs one session; ten leaves room for a few devices on one token).
    rppg_max_sessions_per_user: int = 10
    rppg_session_idle_s: float = 300.0  # a session nobody posts to for 5 minutes is dropped

    # --- ECG (server/vitals/ecg_files.py, ecg.py; server/assess/ecg_report.py) ---
    max_ecg_bytes: int = 20 * 1024 * 1024  # one ECG text file: ~40 min of 500 Hz time,ecg CSV (~19 bytes a row)
    ecg_baseline_seconds: float = 10.0  # without a baseline upload, the file's first seconds are the baseline

    # --- speech ---
    speech_repeat_s: float = 10.0  # repeat an unchanged pain level at most this often
    speech_rate_wpm: int = 160  # espeak-ng default is 175; slower is clearer at a bedside
    max_speech_chars: int = 300
    # A render (espeak-ng, a few words) takes ~0.1 s and a fresh worker's start ~1 s: a worker that has
    # not answered in 10 s is stuck and is killed (issue 25), the request answered 503 speech_unavailable.
    speech_timeout_s: float = 10.0
    # Distinct phrases kept rendered: a level (4) x "not calibrated" x heart rates 40-200 is a few
    # hundred at most; a WAV of a phrase is ~50-100 KB, so 256 of them is at most ~25 MB.
    speech_cache_entries: int = 256
    # Distinct texts waiting for the one voice at once (503 speech_unavailable beyond): the page asks
    # for one phrase at a time, so 8 leaves room for a ward of pages and stops a flood queueing forever.
    speech_max_pending: int = 8

    # --- clinical scales (server/pain/clinical/scales.py) ---
    # After a total in a band that asks for it (PAINAD/FLACC moderate or severe, CPOT above 2) the
    # patient is "reassess due" this many minutes later, and "overdue" once as long again has passed.
    # 30 minutes: the usual ward interval after a parenteral analgesic (60 after an oral one).
    reassess_minutes: float = 30.0

    # --- records and security ---
    instance_dir: str = "instance"  # the SQLite file and the secret key live here (never committed)
    database_url: str = ""  # empty: sqlite in instance_dir; postgresql+psycopg://user:pw@host/db for PostgreSQL
    secure_cookies: bool = False  # set true behind HTTPS: the session cookie is then never sent over plain HTTP
    # HTTPS served by PainScope itself (docs/deployment.md "Deploying on a ward network"): PEM files of the certificate
    # chain and its key. Both set: `python -m server run` speaks only TLS on its port, and cookies are
    # secure whatever secure_cookies says. Empty: plain HTTP (right on 127.0.0.1, behind nginx's TLS).
    tls_cert: str = ""
    tls_key: str = ""
    # With TLS: a second, plain-HTTP port on the same host whose every request is redirected (308) to the
    # HTTPS port; 0: none. (A browser's first visit by http:// then lands on https://, and HSTS keeps it there.)
    http_redirect_port: int = 0
    # Strict-Transport-Security on every HTTPS answer: browsers then use only HTTPS for this host for a year
    # (RFC 6797; one year is the minimum browsers' preload lists accept). 0: no header.
    hsts_max_age_s: int = 31_536_000
    login_max_failures: int = 5  # failed logins allowed per client address within the window...
    login_failure_window_s: float = 300.0  # ...of five minutes (OWASP: throttle, do not lock accounts out)
    # Reverse proxies in front of the server that set X-Forwarded-For/-Proto/-Host (werkzeug ProxyFix);
    # 0: none, and those headers are ignored, since any client could send them.
    trusted_proxies: int = 0
    # A secret a monitor without an account (Prometheus, a load balancer's check) sends as
    # "Authorization: Bearer <it>" to read /metrics and /health's details. Empty: none; /metrics is then
    # for admins' logins and tokens only, /health's details for any login (server/web/security/monitoring.py).
    metrics_token: str = ""

    # --- API rate limits (server/web/security/rate_limits.py): per account (per address without a login), in the
    # `limits` syntax "N/second|minute|hour"; "" or "0" turns one off. Counted in Redis when redis_url is set.
    # Analysis calls (photo, video, ECG, body, heart-rate frames; the seed's /upload-video, /analyze-image,
    # /analyze-batch): 20 a second sustained, one seed heart-rate client posting single frames at the seed's
    # 20 fps (a batch counts once). A clinician uploads a few a minute, and the live page sends its frames over
    # Socket.IO, never HTTP. An analysis takes ~20 ms (a photo) to seconds (a video): 20/s is at most ~0.4 of
    # a core of photos from one account, so a runaway script cannot take a 2-core server from the ward.
    rate_limit_analysis: str = "1200/minute"
    # Every other /api/v1 and seed-compatible call: pages make a few per click and poll nothing over HTTP;
    # 50 a second leaves room for a script paging through records, and stops a loop (a record read takes
    # a few ms, so one client could make hundreds a second) from keeping a worker busy.
    rate_limit_api: str = "3000/minute"
    # /live `start` events per account: each builds trackers (~0.2 s of CPU, ~50 MB) and, with a
    # patient_id, opens an assessment and an audit row that stay. A page starts a stream on a click or
    # after a reconnection; one a second sustained is far above that, and cut a loop of 100 starts in
    # 8.8 s (issue 25) to 60 a minute.
    rate_limit_live_start: str = "60/minute"

    # --- FHIR (docs/deployment.md "FHIR export") ---
    # A FHIR R4 server's base URL: each saved scale assessment is POSTed to it as a transaction Bundle,
    # from an outbox table, retried with back-off until it is accepted. Empty: nothing is pushed.
    fhir_url: str = ""
    fhir_timeout_s: float = 10.0  # one POST; a hospital FHIR server answers a small transaction in well under that
    fhir_poll_s: float = 5.0  # how often the outbox is looked at

    # --- long work as jobs (server/assess/jobs.py): video analyses and scale pre-fills ---
    # In-process engine (`make run`): real threads of their own, apart from the live frames' and photos' pool.
    # One: the analysis itself uses both cores' worth of OpenCV and MediaPipe threads on this 2-core machine.
    job_workers: int = 1
    job_max_running_per_account: int = 1  # fair share: at most this many of one account's jobs run at once
    job_keep_seconds: float = 3600.0  # a finished job's result is kept this long (1 h), then removed
    # A running job whose worker has not reported for this long is marked failed (worker_lost): a sampled
    # frame takes well under a second, and the longest silent step (the peak frame's overlay) a few seconds.
    job_heartbeat_timeout_s: float = 120.0
    job_timeout_s: float = 3600.0  # a job running longer than this is stopped (RQ's job_timeout)
    job_spool_dir: str = ""  # uploads waiting for their job; empty: instance_dir/spool (mode 0700)
    # Where jobs run: "local" (threads of this process; empty means this too) or "rq" (RQ workers on
    # redis_url, `python -m server.assess.job_worker`; `make cluster` sets it and starts them).
    job_engine: str = ""

    # --- storage / scale ---
    models_dir: str = "models"

    # --- the fitted pain reading (server/pain/facs/pain_head.py; docs/validation.md "How well it reads pain") ---
    # Empty: models/pain_head.json of this checkout, written by python -m server.training.fit_pain_head.
    pain_head_file: str = ""
    # The head's SHA-256: a file that differs is refused at start rather than read pain differently
    # unnoticed. Refitting prints the new value. Empty: not checked (only for trying a refit out).
    pain_head_sha256: str = PAIN_HEAD_SHA256

    # Socket.IO message queue (redis://host:port/db): with several workers, an emit reaches a client on any
    # of them (docs/deployment.md "Running on several machines"). Empty: one process, no queue.
    message_queue: str = ""
    # Redis holding what every worker must share: heart-rate sessions (and their caps), login throttling.
    # Empty: kept in this process's memory, right for one process (`make run`).
    redis_url: str = ""
    # At start, mark the assessments a killed server left open as ended. In a cluster only the first worker
    # may: the others' open assessments are live streams (docs/deployment.md "Running on several machines").
    end_open_assessments_at_start: bool = True

    @property
    def pain_head_path(self) -> Path:
        """Where the pain head is read from."""
        return Path(self.pain_head_file) if self.pain_head_file else PROJECT_ROOT / "models" / PAIN_HEAD_FILE_NAME

    @property
    def tls(self) -> bool:
        """Whether this process serves HTTPS itself (a certificate and its key are configured)."""
        return bool(self.tls_cert and self.tls_key)

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some fields changed (tests and the CLI use this)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Build settings from ``PAINSCOPE_*`` variables; unknown or bad values raise ``ValueError``."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _parse(f, raw)
        if "port" not in values and "PORT" in environ:
            values["port"] = int(environ["PORT"])
        return cls(**values)


SECRET_KEY_FILE = "secret_key"
# The instance folder holds health data (the SQLite file) and the secret key: its owner only.
INSTANCE_DIR_MODE = 0o700
INSTANCE_FILE_MODE = 0o600
SECRET_KEY_BYTES = 32


def private_folder(path: str | Path) -> Path:
    """The folder, made if missing, readable by its owner only (0700), tightened if it exists looser.

    Issue 25: ``mkdir(mode=...)`` does nothing to a folder that exists, so an instance folder made
    by hand (or by an older version) stayed world-readable. One we do not own is left as it is
    (chmod would fail); that is its owner's choice.
    """
    folder = Path(path)
    folder.mkdir(mode=INSTANCE_DIR_MODE, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o777 != INSTANCE_DIR_MODE and folder.stat().st_uid == os.getuid():
        os.chmod(folder, INSTANCE_DIR_MODE)
    return folder


def private_file(path: str | Path) -> Path:
    """The file, made empty if missing, readable and writable by its owner only (0600), tightened if looser."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, INSTANCE_FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o777 != INSTANCE_FILE_MODE:
            os.fchmod(fd, INSTANCE_FILE_MODE)
    finally:
        os.close(fd)
    return path


def secret_key(settings: Settings) -> str:
    """The configured key, else the instance folder's (made on first use, readable by its owner only).

    A key kept across restarts keeps clinicians logged in when the server restarts.
    """
    if settings.secret_key:
        return settings.secret_key
    folder = private_folder(settings.instance_dir)
    path = folder / SECRET_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        key = secrets.token_hex(SECRET_KEY_BYTES)
        handle.write(key)
    return key


def _parse(f: dataclasses.Field, raw: str) -> Any:
    default = f.default
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            return tuple(float(x) for x in raw.split(","))
        return raw
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}{f.name.upper()}={raw!r}: {exc}") from exc
