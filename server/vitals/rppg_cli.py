"""``python -m server.vitals.rppg CLIP [CLIP ...]`` (or ``-m server.vitals.rppg_cli``): a heart rate from video files.

Apart from :mod:`server.vitals.rppg` because it reads the clips through
:mod:`server.vitals.skin` (OpenCV, MediaPipe), which builds on the pulse
methods there: the methods stay free of video decoding and the two modules
import in one direction only.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from server.problems import InputProblem
from server.vitals.pulse_methods import METHOD_NAMES
from server.vitals.region_fusion import RegionTrace
from server.vitals.rppg import estimate_recording
from server.vitals.skin import traces_from_video_file


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m server.vitals.rppg CLIP [CLIP ...]``: the clips are regions of one recording, fused."""
    parser = argparse.ArgumentParser(prog="python -m server.vitals.rppg", description=main.__doc__)
    parser.add_argument("clips", nargs="+", help="video files of one recording (e.g. forehead, cheeks)")
    parser.add_argument("--method", choices=METHOD_NAMES, default="pos")
    parser.add_argument("--roi", choices=("face", "full"), default="face",
                        help="face: skin regions from face landmarks; full: every pixel is skin (pre-cropped)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    regions: list[RegionTrace] = []
    for clip in args.clips:
        try:
            regions.extend(traces_from_video_file(clip, args.roi))
        except InputProblem as problem:
            print(f"{clip}: {problem.message}", file=sys.stderr)
            return 2
    if not regions:
        print("no skin found in the clips", file=sys.stderr)
        return 1
    rate = estimate_recording(regions, args.method)
    if args.json:
        print(json.dumps({**rate.as_vitals().to_dict(), "method": args.method, "regions": len(regions)}))
    elif rate.bpm is None:
        print(f"heart rate: not measurable ({rate.reason})")
    else:
        print(f"heart rate: {rate.bpm:.1f} bpm  quality: {rate.quality}  SNR: {rate.snr_db:.1f} dB")
    return 0



if __name__ == "__main__":
    sys.exit(main())
