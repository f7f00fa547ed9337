import math

import numpy as np
import pytest

from gan_core import losses

pytestmark = pytest.mark.backends  # the model, training and saving on every backend


def softplus(x):
    return math.log1p(math.exp(x))


def test_discriminator_loss_at_chance_is_two_ln2():
    # σ(0) = 1/2 for both: −log ½ − log(1 − ½) = 2 ln 2
    value = losses.discriminator_loss(np.array([0.0]), np.array([0.0]))
    assert float(value) == pytest.approx(2 * math.log(2), rel=1e-6)


def test_discriminator_loss_matches_hand_computed_cross_entropy():
    real, fake = np.array([2.0, -1.0]), np.array([-3.0, 0.5])
    sigmoid = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    by_hand = np.mean([-math.log(sigmoid(r)) for r in real]) + np.mean([-math.log(1 - sigmoid(f)) for f in fake])
    assert float(losses.discriminator_loss(real, fake)) == pytest.approx(by_hand, rel=1e-6)
    # the fake term pushes D(G(z)) towards 0: confident rejection costs almost nothing
    assert float(losses.discriminator_loss(np.array([10.0]), np.array([-10.0]))) < 1e-4


def test_nonsaturating_generator_loss():
    assert float(losses.nonsaturating_generator_loss(np.array([0.0]))) == pytest.approx(math.log(2), rel=1e-6)
    logits = np.array([3.0, -2.0])
    expected = (softplus(-3.0) + softplus(2.0)) / 2
    assert float(losses.nonsaturating_generator_loss(logits)) == pytest.approx(expected, rel=1e-6)


def test_minimax_generator_loss_is_log_one_minus_d():
    logits = np.array([1.0, -4.0])
    expected = np.mean([math.log(1 - 1 / (1 + math.exp(-x))) for x in logits])
    assert float(losses.minimax_generator_loss(logits)) == pytest.approx(expected, rel=1e-6)


def test_losses_stay_finite_for_extreme_logits():
    extreme = np.array([1e4, -1e4], dtype="float32")
    for value in (
        losses.discriminator_loss(extreme, extreme),
        losses.nonsaturating_generator_loss(extreme),
        losses.minimax_generator_loss(extreme),
    ):
        assert np.isfinite(float(value))


def test_hinge_losses():
    real, fake = np.array([2.0, 0.5]), np.array([-3.0, 0.0])
    # real: max(0, 1−2) = 0 and max(0, 1−0.5) = 0.5; fake: max(0, 1−3) = 0 and max(0, 1+0) = 1
    assert float(losses.hinge_discriminator_loss(real, fake)) == pytest.approx(0.25 + 0.5)
    assert float(losses.hinge_generator_loss(fake)) == pytest.approx(1.5)
    assert losses.get("hinge") == (losses.hinge_discriminator_loss, losses.hinge_generator_loss)


def test_unknown_loss_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"Unknown GAN loss 'wasserstein'.*nonsaturating, minimax, hinge"):
        losses.get("wasserstein")
