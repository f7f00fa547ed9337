"""The keras.io baselines that bench/ measures against still train (the benchmarks themselves are not run here)."""

import numpy as np
import pytest

from bench.baselines import KerasIoDCGAN, KerasIoWGANGP

pytestmark = pytest.mark.backends  # bench/quality.py trains them on either backend


def weights(network):
    return [w.numpy().copy() for w in network.trainable_weights]


@pytest.mark.parametrize("baseline", [KerasIoDCGAN, KerasIoWGANGP])
def test_a_baseline_train_step_updates_both_networks(baseline):
    model = baseline(latent_dim=8, seed=0)
    model.compile()
    before = {network.name: weights(network) for network in (model.generator, model.discriminator)}
    logs = model.train_on_batch(np.zeros((4, 28, 28, 1), "float32"), return_dict=True)
    assert set(logs) == {"d_loss", "g_loss"} and all(np.isfinite(float(v)) for v in logs.values())
    for network in (model.generator, model.discriminator):
        assert any(not np.array_equal(a, b) for a, b in zip(before[network.name], weights(network), strict=True))
    assert model.generator.output_shape == (None, 28, 28, 1)
