"""Weight initialisation schemes of the Equiformer-family layers (``weight_init``).

``"normal"`` is how the layers initialise themselves, the authors' released code:
:class:`IrrepsLinear` weights ``N(0, init_gain^2 / fan_in)`` (``N(0, 1)`` times their
``sqrt_k``, times ``sqrt(num_elements)`` in the atom embedding) and
internal :class:`DepthwiseTensorProduct` weights ``N(0, 1)`` (fan-in 1 per path).

``"uniform"`` draws every one of those weights from ``U(-s, s)`` instead, with ``s`` the
standard deviation of its normal initialisation (``init_gain / sqrt(fan_in)`` for
IrrepsLinear, 1 for the tensor products): the line the authors left commented out in their
``TensorProductRescale.init_rescale_bias`` (atomicarchitects/equiformer @64cb7866,
nets/tensor_product_rescale.py, ``weight.data.uniform_(-sqrt_k, sqrt_k)`` in place of
``weight.data.mul_(sqrt_k)``), so weights a factor sqrt(3) smaller in spread. The DeNS
paper (v1 appendix D.2, line 877) trains the variant without attention and layer norm
(SEGNN-like) with uniform initialisation because normal initialisation diverged; it does not
state the distribution: this is our reading.
Radial MLPs (``nn.Linear``, PyTorch's uniform default), attention vectors (uniform) and
biases (zero) are the same under both schemes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from bench.backbones.layers.linear import IrrepsLinear
from bench.backbones.layers.tensor_product import DepthwiseTensorProduct

#: the schemes :func:`apply_weight_init` knows
WEIGHT_INITS = ("normal", "uniform")


@torch.no_grad()
def apply_weight_init(module: nn.Module, scheme: str, rng_state: torch.Tensor) -> None:
    """Re-draw the Gaussian-initialised weights of ``module``'s layers under ``scheme``
    ("normal": nothing to do), in the order of ``module.modules()``, from the global CPU
    generator reset to ``rng_state`` (its state before ``module`` was built). So the draws
    depend on the seed and on the modules before a layer, not on the layers built after it:
    a network's extra heads leave the weights of the part it shares with another unchanged.
    """
    if scheme not in WEIGHT_INITS:
        raise ValueError(f"weight_init must be one of {WEIGHT_INITS}, got {scheme!r}")
    if scheme == "normal":
        return
    torch.random.set_rng_state(rng_state)
    for layer in module.modules():
        if isinstance(layer, IrrepsLinear):
            for weight in layer.weights.values():
                bound = layer.init_gain / math.sqrt(weight.shape[0])  # [fan_in, mul_out]
                weight.uniform_(-bound, bound)
        elif isinstance(layer, DepthwiseTensorProduct) and layer.weight is not None:
            layer.weight.uniform_(-1.0, 1.0)
