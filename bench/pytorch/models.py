"""The paper's CIFAR ResNets in plain torch.nn, as the authors' PyTorch code builds them.

The PyTorch side of `make bench`: same architecture, parameter counts and init as the
Rust `models` crate (docs/paper.md#models), so that both sides do the same arithmetic.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

STAGE_WIDTHS = (16, 32, 64)


def _bn_or_identity(channels, bn):
    return nn.BatchNorm2d(channels) if bn else nn.Identity()


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride, bn):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = _bn_or_identity(planes, bn)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = _bn_or_identity(planes, bn)
        self.downsample_to = planes if stride != 1 or in_planes != planes else None

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample_to is None:
            shortcut = x
        else:
            # Option A: every second pixel, planes/4 zero channels on each side.
            pad = self.downsample_to // 4
            shortcut = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad))
        return F.relu(out + shortcut)


class ResNet(nn.Module):
    def __init__(self, depth, bn, classes=10):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"ResNet depth must be 6n+2 (20, 56, 110, …), not {depth}")
        blocks_per_stage = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = _bn_or_identity(16, bn)
        blocks, in_planes = [], 16
        for stage, planes in enumerate(STAGE_WIDTHS):
            for block in range(blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 else 1
                blocks.append(BasicBlock(in_planes, planes, stride, bn))
                in_planes = planes
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(in_planes, classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                # Kaiming-normal, fan-in, ReLU gain; the linear bias keeps PyTorch's
                # default uniform ±1/√fan_in, BN its weight 1 and bias 0.
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.blocks(out)
        return self.fc(out.mean(dim=(2, 3)))


def build(name, bn, classes=10):
    """`resnet20`, `resnet56`, `resnet110`, … as the Rust side names them."""
    if not name.startswith("resnet") or not name[6:].isdigit():
        raise ValueError(f"model must be resnetN (resnet20, resnet56, resnet110, …), not {name!r}")
    return ResNet(int(name[6:]), bn, classes)


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def is_batch_norm(model, name):
    """Whether parameter `name` belongs to a BN layer (left out of the scale statistics)."""
    module = model.get_submodule(name.rsplit(".", 1)[0])
    return isinstance(module, nn.BatchNorm2d)


if __name__ == "__main__":
    import json
    import sys

    # `python models.py resnet20 resnet56 …`: parameter counts with and without BN, as JSON.
    print(json.dumps({
        name: {"bn": parameter_count(build(name, True)), "no_bn": parameter_count(build(name, False))}
        for name in sys.argv[1:]
    }))
