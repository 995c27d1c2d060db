"""The fitted pain head: loaded once with its hash checked, refused when changed, sources fused by its weights."""
from __future__ import annotations

import json

import pytest

from server.config import Settings
from server.pain.facs import pain_head
from server.pain.facs.geometry import GeometryEstimator
from server.pain.facs.pain_head import PainHeadError, load_pain_head, shipped_pain_head


def test_the_shipped_head_is_the_fitted_one_with_its_provenance():
    head = shipped_pain_head(Settings())
    assert head.sha256 == Settings().pain_head_sha256
    provenance = head.provenance
    assert "UNBC-McMaster" in provenance["data"] and provenance["labelled_clips"] >= 40
    assert provenance["command"].startswith("python -m server.training.fit_pain_head")
    for figures in (provenance["loso"], provenance["nested_loso"]):
        assert 0.5 < figures["auc_rating_2_vs_0"] <= 1.0
    assert GeometryEstimator().head is head  # every reading goes through the one head


def test_a_changed_head_is_refused_at_start_naming_the_setting(tmp_path):
    path = tmp_path / "pain_head.json"
    data = json.loads(Settings().pain_head_path.read_text())
    data["rules"]["AU4"]["geometry"]["dead_zone"] += 0.01
    path.write_text(json.dumps(data))
    with pytest.raises(PainHeadError, match="PAINSCOPE_PAIN_HEAD_SHA256"):
        load_pain_head(path, Settings().pain_head_sha256)
    assert load_pain_head(path, None).rules["AU4"]["geometry"].dead_zone == pytest.approx(
        shipped_pain_head().rules["AU4"]["geometry"].dead_zone + 0.01)


@pytest.mark.parametrize("damage", [
    lambda d: d.pop("rules"),
    lambda d: d.update(thresholds=[5.5, 0.5, 10.5]),
    lambda d: d["rules"]["AU7"]["blendshapes"].update(full_scale=0.0),
    lambda d: d.update(format="something else"),
])
def test_a_damaged_head_is_refused(tmp_path, damage):
    data = json.loads(Settings().pain_head_path.read_text())
    damage(data)
    path = tmp_path / "pain_head.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PainHeadError):
        load_pain_head(path, None)


def test_a_missing_source_is_stood_in_for_by_the_other():
    head = pain_head.from_json(json.loads(Settings().pain_head_path.read_text()))
    rules = head.rules["AU4"]
    both = head.fuse("AU4", {"geometry": 2.0, "blendshapes": 2.0})
    alone = head.fuse("AU4", {"geometry": 2.0, "blendshapes": None})
    assert alone == pytest.approx(min(both, 5.0))  # same reading when the other source agrees
    assert head.fuse("AU4", {"geometry": 5.0, "blendshapes": 5.0}) == 5.0  # FACS E at most
    assert rules["geometry"].intensity(rules["geometry"].dead_zone) == 0.0  # inside the dead zone: nothing
