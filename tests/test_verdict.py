"""The verdict of a clip and of a stream (server/pain/verdict.py): the level held for a second, not a spike."""
from __future__ import annotations

from server.pain.verdict import Reading, SustainedLevel, clip_verdict, sustained_action_units
from tests import media
from tests.conftest import multipart
from tests.synthetic import astronaut_face, grimace
from tests.jobs import post_job

FPS = 10.0


def _readings(levels: list[str], step_s: float = 0.2) -> list[Reading]:
    pspi = {"none": 0.0, "mild": 3.0, "moderate": 7.0, "severe": 12.0}
    return [Reading(i * step_s, level, pspi[level]) for i, level in enumerate(levels)]


def test_a_spike_shorter_than_a_second_does_not_set_the_clip_level():
    spike = _readings(["none"] * 5 + ["severe"] * 3 + ["none"] * 5)  # 0.4 s of "severe"
    assert clip_verdict(spike).level == "none" and clip_verdict(spike).pspi == 0.0


def test_a_level_held_for_a_second_sets_it_and_the_held_pspi_is_the_score():
    held = _readings(["none"] * 5 + ["moderate"] * 6 + ["severe"] * 2 + ["none"] * 3)  # moderate 1.0 s, severe 0.2 s
    verdict = clip_verdict(held)
    assert verdict.level == "moderate" and verdict.pspi == 7.0


def test_a_clip_shorter_than_a_second_is_judged_over_all_of_it():
    assert clip_verdict(_readings(["mild", "mild", "severe"])).level == "mild"
    assert clip_verdict([]).level is None


def test_an_action_unit_counts_at_the_intensity_it_held_for_a_second_not_its_one_frame_spike():
    # 5 frames a second: AU4 spikes to 4.0 for one frame, then holds 2.0 for 1.2 s; AU43 blinks once
    au4 = [0.0] * 5 + [4.0] + [0.0] * 4 + [2.0] * 7 + [0.0] * 3
    au43 = [0.0] * 8 + [1.0] + [0.0] * 11
    timed = [(i / 5, {"AU4": a, "AU43": b}) for i, (a, b) in enumerate(zip(au4, au43))]
    assert sustained_action_units(timed) == {"AU4": 2.0, "AU43": 0.0}
    assert sustained_action_units(timed[:5]) == {"AU4": 0.0, "AU43": 0.0}  # short of a second: all of it
    assert sustained_action_units([]) == {}


def test_live_announces_a_level_only_once_it_has_held_for_a_second():
    sustained = SustainedLevel()
    said = [sustained.add(r).level for r in _readings(["mild"] * 8, step_s=0.15)]
    assert said[:6] == ["none"] * 6 and said[-1] == "mild"  # 1.05 s after the first mild frame


def _video(faces: list) -> bytes:
    return media.write_video(faces, fps=FPS)


def test_a_video_with_a_brief_grimace_reads_none_and_says_so(client):
    calm, pain = astronaut_face(), grimace(1.0)
    video = _video([calm] * 20 + [pain] * 3 + [calm] * 20)  # a 0.3 s grimace
    body = post_job(client, "/api/v1/analyze/video", data=multipart(video=video, reference=media_png(calm)),
                       content_type="multipart/form-data").get_json()
    assert body["summary"]["max_pspi"] > 0.5  # the spike is in the timeline...
    assert body["summary"]["level"] == "none"  # ...but not in the verdict
    assert body["speech"]["text"].startswith("No pain detected.")


def test_a_video_with_a_held_grimace_reads_it_and_says_it(client):
    calm, pain = astronaut_face(), grimace(1.0)
    video = _video([calm] * 10 + [pain] * 20 + [calm] * 10)  # 2 s of grimace
    body = post_job(client, "/api/v1/analyze/video", data=multipart(video=video, reference=media_png(calm)),
                       content_type="multipart/form-data").get_json()
    summary = body["summary"]
    assert summary["level"] in ("moderate", "severe") and summary["sustained_pspi"] > 5.5
    assert body["speech"]["text"].startswith(summary["level"].capitalize() + " pain")


def media_png(rgb) -> bytes:
    from tests.synthetic import encode

    return encode(rgb, "PNG")
