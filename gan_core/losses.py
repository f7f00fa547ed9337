"""GAN losses as pure functions of discriminator logits.

All losses take raw logits (D has no sigmoid), so the sigmoid and the log are
fused into one numerically stable `softplus`: -log σ(x) = softplus(-x) and
-log(1 - σ(x)) = softplus(x).
"""

from keras import ops


def discriminator_loss(real_logits, fake_logits):
    """Binary cross-entropy with real → 1 and fake → 0.

    L_D = −E[log σ(D(x))] − E[log(1 − σ(D(G(z))))]
        = E[softplus(−D(x))] + E[softplus(D(G(z)))]

    Minimising it is D's side of the article's objective
    max_D E[log D(x)] + E[log(1 − D(G(z)))].
    """
    return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))


def nonsaturating_generator_loss(fake_logits):
    """The non-saturating generator loss of Goodfellow et al. (2014).

    L_G = −E[log σ(D(G(z)))] = E[softplus(−D(G(z)))]

    Same fixed point as the minimax loss, but strong gradients early in
    training, when D rejects every fake.
    """
    return ops.mean(ops.softplus(-fake_logits))


def minimax_generator_loss(fake_logits):
    """The generator's side of the original minimax objective.

    L_G = E[log(1 − σ(D(G(z))))] = −E[softplus(D(G(z)))]

    Its gradient vanishes when D confidently rejects fakes; kept for
    comparison with the article, not as a default.
    """
    return -ops.mean(ops.softplus(fake_logits))


def hinge_discriminator_loss(real_logits, fake_logits):
    """The hinge loss of geometric GANs / SAGAN: D is only pushed while inside the margin.

    L_D = E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))]
    """
    return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))


def hinge_generator_loss(fake_logits):
    """L_G = −E[D(G(z))], the generator's side of the hinge objective."""
    return -ops.mean(fake_logits)


LOSSES = {
    "nonsaturating": (discriminator_loss, nonsaturating_generator_loss),
    "minimax": (discriminator_loss, minimax_generator_loss),
    "hinge": (hinge_discriminator_loss, hinge_generator_loss),
}


def get(name):
    """Return the `(discriminator_loss, generator_loss)` pair called `name`."""
    if name not in LOSSES:
        raise ValueError(f"Unknown GAN loss {name!r}; choose one of: {', '.join(LOSSES)}.")
    return LOSSES[name]
