"""Which pain estimators exist here: geometry always, learned ones from the checkpoints found at start.

Every ``*.pt`` file in the models directory is tried once when the app starts.
A file that is not a usable checkpoint is listed as broken with the reason;
it never stops the server. With several checkpoints of one kind, the one named
by ``PAINSCOPE_RESNET18_MODEL`` / ``PAINSCOPE_LSTM_MODEL`` /
``PAINSCOPE_RESNET_GRU_MODEL`` / ``PAINSCOPE_ECG_TRANSFORMER_MODEL`` serves,
else the newest file. An ``ecg_transformer`` checkpoint is not a face
estimator: it reads ECG uploads (``ecg_model``) and joins fusion through them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.config import Settings
from server.pain.estimator import PainEstimator
from server.pain.physiology.fusion import FusionEstimator, parse_weights
from server.pain.facs.geometry import GeometryEstimator
from server.pain.facs.pain_head import level_bands, shipped_pain_head
from server.problems import InputProblem

LEARNED_KINDS = ("resnet18", "lstm", "resnet_gru")
ECG_MODEL_KIND = "ecg_transformer"
ESTIMATOR_NAMES = ("geometry", *LEARNED_KINDS, "fusion")
CHECKPOINT_SUFFIX = ".pt"
# Metadata kept out of /health: per-subject figures can run to hundreds of rows.
HEALTH_OMITTED_METADATA = ("per_subject",)


@dataclass(frozen=True)
class EstimatorStatus:
    """One estimator as /health reports it."""

    name: str
    available: bool
    detail: str
    model: str | None = None


@dataclass
class ModelFile:
    """One checkpoint file found in the models directory."""

    file: str
    status: str  # "loaded" | "broken"
    detail: str
    kind: str | None = None
    active: bool = False
    runtime: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    mtime: float = 0.0
    estimator: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for /health."""
        metadata = None
        if self.metadata is not None:
            metadata = {k: v for k, v in self.metadata.items() if k not in HEALTH_OMITTED_METADATA}
            if isinstance(metadata.get("metrics"), dict):
                metadata["metrics"] = {
                    split: {k: v for k, v in figures.items() if k not in HEALTH_OMITTED_METADATA}
                    if isinstance(figures, dict) else figures
                    for split, figures in metadata["metrics"].items()
                }
        return {
            "file": self.file,
            "status": self.status,
            "detail": self.detail,
            "kind": self.kind,
            "active": self.active,
            "runtime": self.runtime,
            "metadata": metadata,
        }


def load_model_file(path: Path, settings: Settings) -> ModelFile:
    """Load one checkpoint and build its estimator; a broken file gives a ModelFile saying why."""
    from server.pain.models import checkpoint, inference  # torch is imported only when a checkpoint exists

    entry = ModelFile(file=path.name, status="broken", detail="", mtime=path.stat().st_mtime)
    try:
        loaded = checkpoint.load(path)
    except (ValueError, OSError) as exc:
        entry.detail = str(exc)
        return entry
    runtime = inference.choose_runtime(loaded, settings.model_threads)
    entry.kind, entry.metadata, entry.runtime = loaded.kind, loaded.metadata, runtime.to_dict()
    if loaded.kind == "resnet18":
        from server.pain.models.resnet_estimator import ResnetEstimator

        entry.estimator = ResnetEstimator(runtime.runner, loaded.metadata, path.name, level_bands(settings))
    elif loaded.kind == "resnet_gru":
        from server.pain.models.resnet_gru_estimator import ResnetGruEstimator

        entry.estimator = ResnetGruEstimator(runtime.runner, loaded.metadata, path.name)
    elif loaded.kind == ECG_MODEL_KIND:
        from server.pain.models.ecg_classifier import EcgClassifier

        entry.estimator = EcgClassifier(runtime.runner, loaded.metadata, path.name)
    else:
        from server.pain.models.sequence_estimator import SequenceEstimator

        entry.estimator = SequenceEstimator(runtime.runner, loaded.metadata, path.name)
    entry.status, entry.detail = "loaded", "ready"
    return entry


def discover_models(settings: Settings) -> list[ModelFile]:
    """Every checkpoint in the models directory, loaded or reported broken, newest first.

    The body segmenter's training checkpoint (``segmentation.pt`` beside
    ``segmentation.onnx``) is not a pain model and is left out.
    """
    folder = Path(settings.models_dir)
    segmenter = Path(settings.segmentation_model).with_suffix(CHECKPOINT_SUFFIX).name
    paths = sorted(p for p in folder.glob("*" + CHECKPOINT_SUFFIX) if p.name != segmenter) if folder.is_dir() else []
    if not paths:
        return []
    import torch

    torch.set_num_threads(settings.model_threads)
    return sorted((load_model_file(p, settings) for p in paths), key=lambda m: m.mtime, reverse=True)


class EstimatorRegistry:
    """Looks estimators up by name."""

    def __init__(self, settings: Settings) -> None:
        self.thresholds = level_bands(settings)
        self.geometry = GeometryEstimator(self.thresholds, shipped_pain_head(settings))
        self.models = discover_models(settings)
        self._estimators: dict[str, PainEstimator] = {self.geometry.name: self.geometry}
        chosen = {"resnet18": settings.resnet18_model, "lstm": settings.lstm_model,
                  "resnet_gru": settings.resnet_gru_model, ECG_MODEL_KIND: settings.ecg_transformer_model}
        active = {kind: self._activate(kind, chosen[kind]) for kind in chosen}
        self._estimators.update({kind: e for kind, e in active.items() if kind in LEARNED_KINDS and e is not None})
        self.ecg_model = active[ECG_MODEL_KIND]  # reads ECG uploads when a checkpoint is there
        # Fusion is there even with the geometry alone: it adds the heart rate to the face.
        weights = parse_weights(settings.fusion_weights)
        parts = [(e, weights.get(name, 0.0)) for name, e in self._estimators.items()]
        if any(weight > 0 for _, weight in parts):
            self._estimators["fusion"] = FusionEstimator(
                parts, self.thresholds, settings.physiology_weight, settings.ecg_model_weight
            )

    def _activate(self, kind: str, wanted_file: str) -> Any:
        """The served model of ``kind``: the loaded file named by the settings, else the newest; None without one."""
        candidates = [m for m in self.models if m.kind == kind and m.status == "loaded"]
        wanted = [m for m in candidates if m.file == wanted_file] if wanted_file else candidates
        if not wanted:
            return None
        wanted[0].active = True
        return wanted[0].estimator

    def get(self, name: str | None, default: str) -> PainEstimator:
        """The estimator called ``name`` (``default`` when None); unknown or missing is a 422."""
        key = (name or default).strip().lower()
        if key in self._estimators:
            return self._estimators[key]
        if key in ESTIMATOR_NAMES:
            raise InputProblem(
                "estimator_unavailable",
                "The %(estimator)s estimator is not installed here: %(reason)s Available: %(available)s.",
                estimator=repr(key), reason=self._missing_reason(key), available=", ".join(self._estimators),
            )
        raise InputProblem("unknown_estimator", "There is no estimator called %(estimator)s. Known: %(known)s.",
                           estimator=repr(key), known=", ".join(ESTIMATOR_NAMES))

    def _missing_reason(self, key: str) -> str:
        if key == "fusion":
            return "PAINSCOPE_FUSION_WEIGHTS gives no loaded estimator a weight above 0."
        return (
            f"it needs a trained model, and no {key} checkpoint was loaded from the models directory "
            "(see /health, 'models')."
        )

    def statuses(self) -> list[EstimatorStatus]:
        """Every estimator with whether it can run (and the checkpoint that serves it)."""
        out = []
        for name in ESTIMATOR_NAMES:
            estimator = self._estimators.get(name)
            if estimator is None:
                out.append(EstimatorStatus(name, False, self._missing_reason(name)))
            elif name == "geometry":
                out.append(EstimatorStatus(name, True, "needs no trained weights"))
            elif name == "fusion":
                parts = ", ".join(f"{e.name} x{w:g}" for e, w in estimator.parts)
                share = estimator.physiology_weight
                heart = f"; heart rate {share:.0%} of the result" if share else ""
                if self.ecg_model is not None and "resnet_gru" in self._estimators:
                    heart += (f"; with an ECG, resnet_gru's logits fused {1 - estimator.ecg_model_weight:.0%} / "
                              f"{estimator.ecg_model_weight:.0%} with the ECG Transformer's")
                out.append(EstimatorStatus(name, True, f"weighted combination: {parts}{heart}"))
            else:
                out.append(EstimatorStatus(name, True, "trained checkpoint", getattr(estimator, "model_name", None)))
        return out

    def ecg_model_status(self) -> EstimatorStatus:
        """The ECG model (not a face estimator, so not among ``statuses``): it reads ECG uploads, or why not."""
        if self.ecg_model is None:
            return EstimatorStatus(
                ECG_MODEL_KIND, False,
                f"{self._missing_reason(ECG_MODEL_KIND)} ECG uploads are read by the heuristic arousal score.",
            )
        return EstimatorStatus(ECG_MODEL_KIND, True, "trained checkpoint; reads ECG uploads", self.ecg_model.model_name)
