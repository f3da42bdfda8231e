"""The paper's CIFAR ResNets and DenseNet-BC in plain torch.nn, as the authors' code builds them.

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


GROWTH = 12


class Bottleneck(nn.Module):
    """BN-ReLU-conv1×1 (4·growth)-BN-ReLU-conv3×3 (growth), concatenated to its input."""

    def __init__(self, in_channels, bn):
        super().__init__()
        self.bn1 = _bn_or_identity(in_channels, bn)
        self.conv1 = nn.Conv2d(in_channels, 4 * GROWTH, 1, bias=False)
        self.bn2 = _bn_or_identity(4 * GROWTH, bn)
        self.conv2 = nn.Conv2d(4 * GROWTH, GROWTH, 3, 1, 1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return torch.cat([x, out], 1)


class Transition(nn.Module):
    """BN-ReLU-conv1×1-avgpool2: half the channels (compression 0.5), half the resolution."""

    def __init__(self, in_channels, out_channels, bn):
        super().__init__()
        self.bn = _bn_or_identity(in_channels, bn)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)


class DenseNetBC(nn.Module):
    def __init__(self, depth, bn, classes=10):
        super().__init__()
        if depth < 10 or (depth - 4) % 6:
            raise ValueError(f"DenseNet-BC depth must be 6n+4 (40, 100, …), not {depth}")
        layers_per_block = (depth - 4) // 6
        channels = 2 * GROWTH
        self.conv1 = nn.Conv2d(3, channels, 3, 1, 1, bias=False)
        stages = []
        for block in range(3):
            for _ in range(layers_per_block):
                stages.append(Bottleneck(channels, bn))
                channels += GROWTH
            if block < 2:
                stages.append(Transition(channels, channels // 2, bn))
                channels //= 2
        self.stages = nn.Sequential(*stages)
        self.bn_final = _bn_or_identity(channels, bn)
        self.fc = nn.Linear(channels, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # The paper's init: N(0, 2 / (k·k·out_channels)), fan-out; the linear layer
                # keeps PyTorch's default uniform ±1/√fan_in.
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        out = F.relu(self.bn_final(self.stages(self.conv1(x))))
        return self.fc(out.mean(dim=(2, 3)))


def build(name, bn, classes=10):
    """`resnet20`, `resnet110`, `densenet100`, … as the Rust side names them."""
    for family, cls in (("resnet", ResNet), ("densenet", DenseNetBC)):
        if name.startswith(family) and name[len(family):].isdigit():
            return cls(int(name[len(family):]), bn, classes)
    raise ValueError(f"model must be resnetN or densenetN (resnet20, resnet110, densenet100, …), not {name!r}")


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
