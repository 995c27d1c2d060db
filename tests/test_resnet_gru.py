"""The ResNet-18 + GRU face-video network: shapes per label set, masking, ONNX agreeing with torch."""
from __future__ import annotations

import io

import numpy as np
import onnxruntime
import pytest
import torch

from server.pain.models import resnet, resnet_gru, sequence

SIZE, FRAMES = 64, 4  # tiny crops and window: the shapes matter here, not the resolution


def _window(rng: np.random.Generator) -> np.ndarray:
    crops = rng.integers(0, 256, (FRAMES, SIZE, SIZE, 3), dtype=np.uint8)
    return resnet.to_batch(crops)[None]


@pytest.mark.parametrize("label_set", ["binary", "biovid4", "biovid5"])
def test_one_logit_per_class_of_the_label_set(label_set):
    torch.manual_seed(0)
    model = resnet_gru.build(label_set).eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(_window(np.random.default_rng(0))), torch.ones(1, FRAMES))
    assert logits.shape == (1, len(sequence.label_names(label_set)))


def test_frames_without_a_face_do_not_change_the_answer():
    torch.manual_seed(0)
    model = resnet_gru.build("biovid5").eval()
    rng = np.random.default_rng(1)
    a, b = _window(rng), _window(rng)
    b[0, -1] = a[0, -1]  # only the masked (padding) frames differ
    b[0, -2] = a[0, -2]
    mask = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    other = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    with torch.no_grad():
        same_a, same_b = model(torch.from_numpy(a), mask), model(torch.from_numpy(b), mask)
        differs = model(torch.from_numpy(b), other)
    assert torch.allclose(same_a, same_b, atol=1e-5)
    assert not torch.allclose(same_a, differs, atol=1e-5)


def test_onnx_export_gives_the_same_logits_as_torch():
    torch.manual_seed(0)
    model = resnet_gru.build("binary").eval()
    frames = torch.from_numpy(_window(np.random.default_rng(2)))
    mask = torch.tensor([[0.0, 1.0, 1.0, 1.0]])
    buffer = io.BytesIO()
    torch.onnx.export(model, (frames, mask), buffer, input_names=["frames", "mask"], output_names=["logits"],
                      dynamo=False)
    session = onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run(None, {"frames": frames.numpy(), "mask": mask.numpy()})
    with torch.no_grad():
        torch_logits = model(frames, mask).numpy()
    np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-4)


def test_crops_through_the_trunk_one_at_a_time_then_the_window_head_give_the_whole_networks_logits():
    torch.manual_seed(0)
    model = resnet_gru.build("biovid4").eval()
    parts = model.parts()
    frames = torch.from_numpy(_window(np.random.default_rng(3)))
    mask = torch.tensor([[1.0, 0.0, 1.0, 1.0]])
    with torch.no_grad():
        features = torch.cat([parts["features"](frames[0, i:i + 1]) for i in range(FRAMES)])  # as frames arrive
        cached = parts["head"](features[None], mask)
        whole = model(frames, mask)
    assert features.shape == (FRAMES, resnet.FEATURE_WIDTH)
    assert torch.allclose(cached, whole, atol=1e-5)
