"""Latent vectors: where each image comes from.

A seed names exactly one latent vector, on every machine, so a seed is
enough to share an image.
"""

import numpy as np

MAX_SEED = 2**32 - 1


def latent_from_seed(seed: int, latent_dim: int) -> np.ndarray:
    """The latent vector z ~ N(0, I) that `seed` stands for, as float32."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"A seed must be an integer, got {seed!r}.")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"A seed must be in 0 … {MAX_SEED}, got {seed}.")
    return np.random.default_rng(int(seed)).standard_normal(latent_dim).astype("float32")


def latents_from_seeds(seeds, latent_dim: int) -> np.ndarray:
    """Stack `latent_from_seed` for each seed into a (len(seeds), latent_dim) array."""
    return np.stack([latent_from_seed(seed, latent_dim) for seed in seeds])


def resolve_latents(seeds, latents, latent_dim: int) -> np.ndarray:
    """Exactly one of `seeds` or `latents` → a float32 (n, latent_dim) array."""
    if (seeds is None) == (latents is None):
        raise ValueError("Pass either seeds or latents, not both and not neither.")
    if seeds is not None:
        return latents_from_seeds(seeds, latent_dim)
    latents = np.asarray(latents, dtype="float32")
    if latents.ndim == 1:
        latents = latents[None]
    if latents.ndim != 2 or latents.shape[1] != latent_dim:
        raise ValueError(f"Latents must have shape (n, {latent_dim}), got {tuple(latents.shape)}.")
    if not np.all(np.isfinite(latents)):
        raise ValueError("Latents must be finite numbers (no NaN or infinity).")
    return latents
