"""The ResNet-18 network: optional level head, trunk weights from a local file, nothing downloaded."""
import numpy as np
import pytest
import torch
import torchvision

from server.pain.models import resnet


def test_the_regression_output_has_one_value_per_face_and_the_level_head_is_optional():
    images = torch.from_numpy(resnet.to_batch(np.full((2, 64, 64, 3), 128, np.uint8)))
    pspi, logits = resnet.build().eval()(images)
    assert pspi.shape == (2,) and logits.shape == (2, 0)
    _, logits = resnet.build(classify=True).eval()(images)
    assert logits.shape == (2, 4)


def test_initial_trunk_weights_come_from_a_local_file(tmp_path):
    source = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18-local.pth"
    torch.save(source.state_dict(), path)
    model = resnet.build(init=path)
    assert torch.equal(model.trunk.conv1.weight, source.conv1.weight)
    torch.save({"unrelated.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="no ResNet-18 weights"):
        resnet.build(init=tmp_path / "other.pth")
