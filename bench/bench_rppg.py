"""rPPG accuracy on the real clips in ../shared/data/rppg-roi (read in place, never copied).

One subject = all its clips (forehead / cheeks), fused. Per method: mean absolute
error, RMSE and share within 5 bpm against the pulse oximeter, using the best
estimate even when its SNR is below the floor (the app itself would report
"not measurable" then; ``above_floor`` counts how many subjects it would report).
Prints one JSON line per method.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO_ROOT, log  # noqa: E402
from server.vitals import pulse_methods, region_fusion, rppg, spectrum  # noqa: E402
from server.vitals.skin import traces_from_video_file  # noqa: E402

DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "rppg-roi"
WITHIN_BPM = 5.0
PUBLISHED_CHROM_MAE = 11.6  # Dasari et al. 2021, all subjects of the study (data README)


def load_subjects(data_dir: Path) -> dict[str, tuple[float, list[region_fusion.RegionTrace]]]:
    """Ground truth and fused region traces per subject (all its clips, every pixel skin)."""
    subjects = {}
    with open(data_dir / "ground_truth.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            name = f"{row['region']}_{row['video']}"
            clips = sorted(data_dir.glob(f"{name}_*.avi"))
            traces = [trace for clip in clips for trace in traces_from_video_file(str(clip), "full")]
            subjects[name] = (float(row["hr_bpm"]), traces)
            log(f"{name}: {len(clips)} clip(s)")
    return subjects


def evaluate(subjects: dict[str, tuple[float, list[region_fusion.RegionTrace]]], method: str) -> dict:
    """Error figures of one method over all subjects."""
    errors, above_floor = [], 0
    for truth, traces in subjects.values():
        rate = rppg.estimate_recording(traces, method, floor_db=-np.inf)
        errors.append(abs(rate.bpm - truth))
        above_floor += rate.snr_db is not None and rate.snr_db >= spectrum.SNR_FLOOR_DB
    errors = np.array(errors)
    return {
        "bench": "rppg", "method": method, "subjects": len(errors),
        "mae_bpm": round(float(errors.mean()), 2),
        "rmse_bpm": round(float(np.sqrt((errors**2).mean())), 2),
        "within_5_bpm": round(float((errors <= WITHIN_BPM).mean()), 3),
        "above_floor": int(above_floor),
        "target_mae_below": PUBLISHED_CHROM_MAE,
    }


def main() -> int:
    """Run every method on every subject."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    args = parser.parse_args()
    if not (args.data / "ground_truth.csv").exists():
        log(f"no data at {args.data}")
        return 2
    start = time.perf_counter()
    subjects = load_subjects(args.data)
    log(f"traces extracted in {time.perf_counter() - start:.0f} s")
    for method in pulse_methods.METHOD_NAMES:
        print(json.dumps(evaluate(subjects, method)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
