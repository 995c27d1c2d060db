"""Training data tools: UNBC reader, manifests (CSV and BioVid) and subject-wise splits."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from server.pain.scale import LABEL_SETS
from server.training.manifest import (
    BIOVID_BIO_SUFFIX,
    BIOVID_TO_LABEL_SET,
    ManifestRow,
    biovid_manifest,
    parse_biovid_name,
    read_manifest,
    write_manifest,
)
from server.training.splits import SubjectSplit, make_splits, select
from server.training.unbc import LabelledFrame, scan_unbc

# ---------------------------------------------------------------- UNBC


def _png(path: Path, shade: int = 128) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), shade).save(path)


def _label(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _frame(root: Path, subject: str, sequence: str, frame: str, label: str | None, ext: str = ".png") -> None:
    _png(root / "IMAGES" / subject / sequence / f"{frame}{ext}")
    if label is not None:
        _label(root / "LABELS" / subject / sequence / f"{frame}_facs.txt", label)


@pytest.fixture()
def unbc_tree(tmp_path: Path) -> Path:
    """Two subjects: 4 good frames, and one of each kind of broken frame."""
    _frame(tmp_path, "042-ll042", "ll042t1aaaff", "ll042t1aaaff001", "   0.0000000e+00\n")
    _frame(tmp_path, "042-ll042", "ll042t1aaaff", "ll042t1aaaff002", "   3.0000000e+00   1.0 2.0\n4.0\n")
    _frame(tmp_path, "042-ll042", "ll042t1aaaff", "ll042t1aaaff003", None)  # missing label
    _frame(tmp_path, "042-ll042", "ll042t1aaaff", "ll042t1aaaff004", "abc")  # bad label
    _frame(tmp_path, "042-ll042", "ll042t1aaaff", "ll042t1aaaff005", "")  # bad label (no number)
    _frame(tmp_path, "064-ak064", "ak064t1aaaff", "ak064t1aaaff001", "16", ext=".jpg")
    _frame(tmp_path, "064-ak064", "ak064t1aaaff", "ak064t1aaaff002", "7.5", ext=".BMP")
    _frame(tmp_path, "064-ak064", "ak064t1aaaff", "ak064t1aaaff003", "17")  # out of range
    _frame(tmp_path, "064-ak064", "ak064t1aaaff", "ak064t1aaaff004", "nan")  # out of range
    _frame(tmp_path, "064-ak064", "ak064t1aaaff", "ak064t1aaaff005", "-1")  # out of range
    seq = tmp_path / "IMAGES" / "064-ak064" / "ak064t1aaaff"
    (seq / "ak064t1aaaff006.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")  # corrupt
    _label(tmp_path / "LABELS" / "064-ak064" / "ak064t1aaaff" / "ak064t1aaaff006_facs.txt", "2")
    (seq / "ak064t1aaaff007.png").write_bytes(b"")  # zero bytes
    _label(tmp_path / "LABELS" / "064-ak064" / "ak064t1aaaff" / "ak064t1aaaff007_facs.txt", "2")
    (seq / "notes.txt").write_text("not an image, ignored")
    return tmp_path


def test_unbc_scan_keeps_good_frames_in_sorted_order(unbc_tree: Path):
    report = scan_unbc(unbc_tree / "IMAGES", unbc_tree / "LABELS")
    assert [(f.subject, f.frame, f.pspi) for f in report.frames] == [
        ("042-ll042", "ll042t1aaaff001", 0.0),
        ("042-ll042", "ll042t1aaaff002", 3.0),
        ("064-ak064", "ak064t1aaaff001", 16.0),
        ("064-ak064", "ak064t1aaaff002", 7.5),
    ]
    first = report.frames[0]
    assert isinstance(first, LabelledFrame)
    assert first.path == unbc_tree / "IMAGES" / "042-ll042" / "ll042t1aaaff" / "ll042t1aaaff001.png"
    assert first.sequence == "ll042t1aaaff"


def test_unbc_scan_counts_every_skipped_frame_by_reason(unbc_tree: Path):
    report = scan_unbc(unbc_tree / "IMAGES", unbc_tree / "LABELS")
    assert report.skipped == {"missing_label": 1, "bad_label": 2, "out_of_range": 3, "unreadable_image": 2}
    assert report.summary() == {
        "total": 4,
        "subjects": {"042-ll042": 2, "064-ak064": 2},
        "skipped": report.skipped,
    }


def test_unbc_missing_top_folder_is_a_clear_error(tmp_path: Path):
    (tmp_path / "IMAGES").mkdir()
    with pytest.raises(FileNotFoundError, match="labels folder"):
        scan_unbc(tmp_path / "IMAGES", tmp_path / "LABELS")
    with pytest.raises(FileNotFoundError, match="images folder"):
        scan_unbc(tmp_path / "nowhere", tmp_path / "IMAGES")


def test_unbc_nothing_usable_says_what_was_skipped(tmp_path: Path):
    _frame(tmp_path, "s1", "q1", "f1", None)
    _frame(tmp_path, "s1", "q1", "f2", "99")
    with pytest.raises(ValueError, match=r"skipped 2 \(missing_label: 1, out_of_range: 1\)"):
        scan_unbc(tmp_path / "IMAGES", tmp_path / "LABELS")
    (tmp_path / "LABELS2").mkdir()
    (tmp_path / "IMAGES2").mkdir()
    with pytest.raises(ValueError, match="no images found"):
        scan_unbc(tmp_path / "IMAGES2", tmp_path / "LABELS2")


# ---------------------------------------------------------------- CSV manifests


def _manifest(folder: Path, lines: list[str]) -> Path:
    path = folder / "manifest.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_read_manifest_resolves_relative_paths_and_counts_bad_rows(tmp_path: Path):
    (tmp_path / "clips").mkdir()
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / "clips" / name).write_bytes(b"x")
    absolute = tmp_path / "elsewhere.mp4"
    absolute.write_bytes(b"x")
    csv_path = _manifest(tmp_path, [
        "path,label,subject",
        "clips/a.mp4,NO_PAIN,s1",
        f"{absolute},PAIN,s2",
        " clips/b.mp4 , PAIN , s1 ",  # stray spaces are tolerated
        "clips/a.mp4,PA4,s1",  # not a binary label
        "clips/gone.mp4,PAIN,s3",  # missing file
        "clips/a.mp4,,s1",  # blank label
        "clips/a.mp4,PAIN",  # short row
    ])
    rows, skipped = read_manifest(csv_path, "binary")
    assert rows == [
        ManifestRow(tmp_path / "clips" / "a.mp4", "NO_PAIN", "s1"),
        ManifestRow(absolute, "PAIN", "s2"),
        ManifestRow(tmp_path / "clips" / "b.mp4", "PAIN", "s1"),
    ]
    assert skipped == {"blank_field": 2, "unknown_label": 1, "missing_file": 1}


def test_read_manifest_header_and_label_set_errors(tmp_path: Path):
    csv_path = _manifest(tmp_path, ["path,label", "a.mp4,PAIN"])
    with pytest.raises(ValueError, match="'subject'"):
        read_manifest(csv_path, "binary")
    with pytest.raises(ValueError, match="biovid4"):
        read_manifest(csv_path, "likert")


def test_write_then_read_manifest_round_trips(tmp_path: Path):
    inside = tmp_path / "data" / "s1" / "v.mp4"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"x")
    outside = tmp_path / "other.mp4"
    outside.write_bytes(b"x")
    rows = [ManifestRow(inside, "PA1", "s1"), ManifestRow(outside, "BL1", "s2")]
    csv_path = tmp_path / "data" / "manifest.csv"
    write_manifest(rows, csv_path)
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "path,label,subject"
    assert lines[1] == "s1/v.mp4,PA1,s1"  # relative inside the CSV's folder
    assert lines[2].startswith(outside.resolve().as_posix())  # absolute elsewhere
    read_back, skipped = read_manifest(csv_path, "biovid4")
    assert [(r.path.resolve(), r.label, r.subject) for r in read_back] == [
        (inside.resolve(), "PA1", "s1"), (outside.resolve(), "BL1", "s2")
    ]
    assert sum(skipped.values()) == 0


# ---------------------------------------------------------------- BioVid


@pytest.mark.parametrize(
    "name, subject, expected",
    [
        ("071309_w_21-BL1-081.mp4", "071309_w_21", "BL1"),
        ("071309_w_21-PA4-010.mp4", "071309_w_21", "PA4"),
        ("0-9_w-2-PA2-001.MP4", "0-9_w-2", "PA2"),  # dashes inside the subject id
        ("071309_w_21-PA5-001.mp4", "071309_w_21", None),  # no such class
        ("071309_w_21-BL1-0a1.mp4", "071309_w_21", None),  # not a sample number
        ("071309_w_21-BL1.mp4", "071309_w_21", None),  # too few fields
        ("071309_w_21-BL1-081.avi", "071309_w_21", None),  # not a video we read
        ("082315_w_60-BL1-081.mp4", "071309_w_21", None),  # another subject's file
    ],
)
def test_biovid_name_parsing(name: str, subject: str, expected: str | None):
    assert parse_biovid_name(name, subject) == expected


def test_biovid_mapping_only_uses_labels_of_each_label_set():
    assert set(BIOVID_TO_LABEL_SET) == set(LABEL_SETS)
    for label_set, mapping in BIOVID_TO_LABEL_SET.items():
        assert set(mapping.values()) == set(LABEL_SETS[label_set])


@pytest.fixture()
def biovid_tree(tmp_path: Path) -> Path:
    for subject in ("071309_w_21", "072514_m_27"):
        folder = tmp_path / subject
        folder.mkdir()
        for biovid_class in ("BL1", "PA1", "PA2", "PA3", "PA4"):
            (folder / f"{subject}-{biovid_class}-001.mp4").write_bytes(b"x")
        (folder / "readme.txt").write_text("x")
    (tmp_path / "index.csv").write_text("x")  # outside any subject folder
    return tmp_path


@pytest.mark.parametrize(
    "label_set, kept, not_in_set",
    [("biovid5", 10, 0), ("biovid4", 8, 2), ("binary", 4, 6)],
)
def test_biovid_manifest_keeps_the_label_sets_classes(biovid_tree: Path, label_set: str, kept: int, not_in_set: int):
    rows, skipped = biovid_manifest(biovid_tree, label_set)
    assert len(rows) == kept
    assert skipped == {"unrecognised_name": 3, "not_in_label_set": not_in_set}
    assert {r.label for r in rows} == set(LABEL_SETS[label_set])
    assert all(r.path.name.startswith(r.subject + "-") for r in rows)


def test_biovid_binary_is_baseline_against_tolerance(biovid_tree: Path):
    rows, _ = biovid_manifest(biovid_tree, "binary")
    by_class = {r.path.name.split("-")[-2]: r.label for r in rows}
    assert by_class == {"BL1": "NO_PAIN", "PA4": "PAIN"}
    assert rows[0].subject == "071309_w_21"


def test_biovid_manifest_errors(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        biovid_manifest(tmp_path / "missing", "binary")
    with pytest.raises(ValueError, match="known"):
        biovid_manifest(tmp_path, "pain3")


# ---------------------------------------------------------------- splits

SUBJECTS = [f"s{i:02d}" for i in range(10)]


def _assert_disjoint(split: SubjectSplit) -> None:
    train, validation, test = set(split.train), set(split.validation), set(split.test)
    assert not train & validation and not train & test and not validation & test
    assert train and validation


def test_split_without_test_set_is_deterministic_and_disjoint():
    items = SUBJECTS * 3  # many frames per subject; duplicates collapse
    (split,) = make_splits(items, seed=4)
    _assert_disjoint(split)
    assert split.test == ()
    assert len(split.validation) == 2  # 20% of 10
    assert set(split.train) | set(split.validation) == set(SUBJECTS)
    assert make_splits(reversed(items), seed=4) == [split]  # input order does not matter
    assert split.to_dict()["validation"] == list(split.validation)


def test_explicit_test_subjects_give_one_split():
    (split,) = make_splits(SUBJECTS, test_subjects=["s03", "s07"])
    _assert_disjoint(split)
    assert split.test == ("s03", "s07")
    assert set(split.train) | set(split.validation) | set(split.test) == set(SUBJECTS)
    with pytest.raises(ValueError, match="s99"):
        make_splits(SUBJECTS, test_subjects=["s03", "s99"])


def test_folds_cover_every_subject_exactly_once_as_test():
    splits = make_splits(SUBJECTS, folds=3, seed=1)
    assert [s.name for s in splits] == ["fold1of3", "fold2of3", "fold3of3"]
    tested = [subject for split in splits for subject in split.test]
    assert sorted(tested) == SUBJECTS
    assert sorted(len(s.test) for s in splits) == [3, 3, 4]
    for split in splits:
        _assert_disjoint(split)
        assert set(split.train) | set(split.validation) | set(split.test) == set(SUBJECTS)


def test_leave_one_subject_out_holds_out_each_subject_alone_once():
    splits = make_splits(SUBJECTS, folds="loso", seed=1)
    assert [s.name for s in splits] == [f"loso-{subject}" for subject in SUBJECTS]
    assert [s.test for s in splits] == [(subject,) for subject in SUBJECTS]
    for split in splits:
        _assert_disjoint(split)
        assert set(split.train) | set(split.validation) | set(split.test) == set(SUBJECTS)
    with pytest.raises(ValueError, match="too few subjects"):
        make_splits(["a", "b"], folds="loso")
    with pytest.raises(ValueError, match="number of folds or 'loso'"):
        make_splits(SUBJECTS, folds="lopo")


def test_biovid_biosignal_files_are_read_by_their_own_suffix():
    assert parse_biovid_name("071309_w_21-PA4-012_bio.csv", "071309_w_21", BIOVID_BIO_SUFFIX) == "PA4"
    assert parse_biovid_name("071309_w_21-PA4-012.mp4", "071309_w_21", BIOVID_BIO_SUFFIX) is None


def test_seed_changes_the_split():
    assert make_splits(SUBJECTS, folds=2, seed=0) != make_splits(SUBJECTS, folds=2, seed=1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"subjects": ["a"]}, "too few subjects"),
        ({"subjects": ["a", "b"], "test_subjects": ["a"]}, "need at least 3"),
        ({"subjects": ["a", "b", "c"], "folds": 1}, "at least 2"),
        ({"subjects": ["a", "b", "c"], "folds": 4}, "need at least 4 subjects"),
        ({"subjects": ["a", "b", "c"], "folds": 2}, "too few subjects"),
        ({"subjects": SUBJECTS, "folds": 2, "test_subjects": ["s01"]}, "not both"),
        ({"subjects": SUBJECTS, "validation_fraction": 1.0}, "validation_fraction"),
    ],
)
def test_split_errors(kwargs: dict, message: str):
    with pytest.raises(ValueError, match=message):
        make_splits(**kwargs)


def test_select_returns_indices_of_chosen_subjects():
    items = ["a", "b", "a", "c", "b"]
    assert select(items, {"a", "c"}).tolist() == [0, 2, 3]
    assert select(items, []).dtype == np.int64
    assert select(items, ["z"]).size == 0
    with pytest.raises(TypeError):
        select(items, "a")
