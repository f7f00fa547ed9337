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


def labels_for_seeds(seeds, num_classes: int | None) -> np.ndarray | None:
    """Seed i asks for class i mod num_classes, so a run of seeds covers every class evenly
    (None for an unconditional model)."""
    return np.asarray(seeds) % num_classes if num_classes else None


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


def truncate(latents: np.ndarray, psi: float, center: np.ndarray | float = 0.0) -> np.ndarray:
    """The truncation trick: z̄ + ψ(z − z̄). ψ < 1 trades variety for typical, cleaner images."""
    return (center + psi * (latents - center)).astype("float32")


def lerp(start: np.ndarray, end: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Straight-line interpolation; its midpoints cut through the low-density centre of N(0, I)."""
    t = np.asarray(t, dtype="float64")[:, None]
    return ((1 - t) * start + t * end).astype("float32")


def slerp(start: np.ndarray, end: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation: follows the great circle, so norms stay where Gaussian samples live."""
    t = np.asarray(t, dtype="float64")[:, None]
    start64, end64 = start.astype("float64"), end.astype("float64")
    cosine = np.dot(start64, end64) / (np.linalg.norm(start64) * np.linalg.norm(end64))
    omega = np.arccos(np.clip(cosine, -1.0, 1.0))
    if omega < 1e-6:  # (anti)parallel endpoints: the great circle is undefined, lerp is exact enough
        return lerp(start, end, t[:, 0])
    path = (np.sin((1 - t) * omega) * start64 + np.sin(t * omega) * end64) / np.sin(omega)
    path[t[:, 0] == 0], path[t[:, 0] == 1] = start64, end64
    return path.astype("float32")


INTERPOLATIONS = {"slerp": slerp, "lerp": lerp}


def interpolate(start: np.ndarray, end: np.ndarray, frames: int, mode: str = "slerp") -> np.ndarray:
    """`frames` latents from `start` to `end` inclusive, by "slerp" or "lerp"."""
    if mode not in INTERPOLATIONS:
        raise ValueError(f"Interpolation must be one of {', '.join(INTERPOLATIONS)}, got {mode!r}.")
    return INTERPOLATIONS[mode](start, end, np.linspace(0.0, 1.0, frames))


def sefa_directions(kernel: np.ndarray, latent_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form semantic directions (SeFa, Shen & Zhou 2021) of a generator's first layer.

    The first layer maps z ↦ Az with A = Kᵀ (Keras' Dense kernel K is latent × units;
    rows past `latent_dim` belong to a label embedding and are ignored). The unit
    eigenvectors of AᵀA = K Kᵀ with the largest eigenvalues move the output the
    most. Returns (directions as rows, eigenvalues), largest first.
    """
    weights = np.asarray(kernel, dtype="float64")[:latent_dim]
    eigenvalues, eigenvectors = np.linalg.eigh(weights @ weights.T)
    order = np.argsort(eigenvalues)[::-1]
    return eigenvectors[:, order].T.astype("float32"), eigenvalues[order]
