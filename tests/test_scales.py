"""The clinical scales (server/pain/clinical/scales.py): items, totals, every band boundary, validation."""
from __future__ import annotations

import pytest

from server.pain.clinical.scales import CPOT, FLACC, PAINAD, SCALES, get_scale, score_scale
from server.problems import InputProblem


def _filled(scale, total: int) -> dict[str, int]:
    """A form of ``scale`` whose scores add up to ``total`` (filled item by item, 2 at most each)."""
    values, left = {}, total
    for item in scale.items:
        values[item.key] = min(2, left)
        left -= values[item.key]
    assert left == 0
    return values


def test_scales_have_their_published_shape():
    assert (len(PAINAD.items), PAINAD.max_total) == (5, 10)
    assert (len(CPOT.items), CPOT.max_total) == (4, 8)
    assert (len(FLACC.items), FLACC.max_total) == (5, 10)
    for scale in SCALES.values():
        assert all(item.scores == (0, 1, 2) for item in scale.items)
        # the bands cover every total exactly once
        covered = [t for band in scale.bands for t in range(band.low, band.high + 1)]
        assert covered == list(range(scale.max_total + 1))


@pytest.mark.parametrize("scale, total, band", [
    (PAINAD, 0, "none"), (PAINAD, 1, "mild"), (PAINAD, 3, "mild"), (PAINAD, 4, "moderate"),
    (PAINAD, 6, "moderate"), (PAINAD, 7, "severe"), (PAINAD, 10, "severe"),
    (FLACC, 0, "none"), (FLACC, 1, "mild"), (FLACC, 3, "mild"), (FLACC, 4, "moderate"),
    (FLACC, 6, "moderate"), (FLACC, 7, "severe"), (FLACC, 10, "severe"),
    (CPOT, 0, "none"), (CPOT, 2, "none"), (CPOT, 3, "pain"), (CPOT, 8, "pain"),
])
def test_total_falls_in_its_band_at_every_boundary(scale, total, band):
    scored = score_scale(scale, _filled(scale, total))
    assert scored.total == total
    assert scored.band.name == band
    assert scored.band.reassess == (band in ("moderate", "severe", "pain"))


def test_unknown_scale_and_item_are_refused():
    assert get_scale(" PAINAD ") is PAINAD
    with pytest.raises(InputProblem) as caught:
        get_scale("nrs")
    assert caught.value.code == "unknown_scale"
    with pytest.raises(InputProblem) as caught:
        score_scale(CPOT, {**_filled(CPOT, 0), "cry": 1})
    assert caught.value.code == "unknown_scale_item"


@pytest.mark.parametrize("value, code", [(3, "scale_value_out_of_range"), (-1, "scale_value_out_of_range"),
                                         (1.5, "bad_field_type"), ("1", "bad_field_type"), (True, "bad_field_type")])
def test_bad_values_are_refused(value, code):
    with pytest.raises(InputProblem) as caught:
        score_scale(FLACC, {**_filled(FLACC, 0), "legs": value})
    assert caught.value.code == code


def test_missing_item_makes_the_form_incomplete():
    values = _filled(PAINAD, 5)
    del values["consolability"]
    with pytest.raises(InputProblem) as caught:
        score_scale(PAINAD, values)
    assert caught.value.code == "scale_incomplete"
    assert "consolability" in caught.value.message


def test_scale_serialises_items_options_and_sources():
    out = PAINAD.to_dict()
    assert [i["key"] for i in out["items"]] == ["breathing", "vocalization", "face", "body_language", "consolability"]
    assert out["items"][2]["options"][2] == {"score": 2, "label": "Facial grimacing"}
    assert "Warden" in out["source"] and out["max_total"] == 10
