"""Latent vectors: where each image comes from.

A seed names exactly one latent vector, on every machine, so a seed is
enough to share an image; any other latent travels as JSON (`latent_to_json`)
or, in a link, as base64 (`latent_to_text`), both exact to the bit.
"""

import base64
import binascii
import json
import math
import re

import numpy as np

MAX_SEED = 2**32 - 1
LATENT_FORMAT = "gan_core.latent/1"
MAX_LATENT_JSON = 100_000  # characters; a 512-d latent takes about 12,000
MAX_JSON_DEPTH = 8  # a latent JSON nests 2 deep; deeper text is refused before it is parsed
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


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


def mean_latent(seeds, latent_dim: int) -> np.ndarray:
    """The average latent of several seeds: what they have in common (DCGAN's "concept vectors").
    Its norm shrinks like 1/√n, so put it back on the shell (`to_shell`) before drawing it."""
    return latents_from_seeds(seeds, latent_dim).mean(axis=0)


def typical_norm(latent_dim: int) -> float:
    """The norm of a typical z ~ N(0, I): samples concentrate on the shell of radius about √d."""
    return math.sqrt(latent_dim)


def to_shell(latents: np.ndarray) -> np.ndarray:
    """Rescale each latent to the typical norm √d, keeping its direction.

    Sums, differences and averages of Gaussian latents leave the shell (A − B + C has
    norm about √3·√d); the generator only saw latents near it, so off-shell points
    draw noise.
    """
    latents = np.asarray(latents, dtype="float64")
    norms = np.linalg.norm(latents, axis=-1, keepdims=True)
    if np.any(norms == 0) or not np.all(np.isfinite(norms)):
        raise ValueError("A latent of zero (or infinite) length has no direction to put on the shell.")
    return (latents * (typical_norm(latents.shape[-1]) / norms)).astype("float32")


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
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.dot(start64, end64) / (np.linalg.norm(start64) * np.linalg.norm(end64))
    omega = np.arccos(np.clip(cosine, -1.0, 1.0))
    if not 1e-6 < omega < np.pi - 1e-6:  # a zero or (anti)parallel endpoint: no unique great circle, take the line
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
    most. Returns (directions as rows, eigenvalues), largest first. An eigenvector's
    sign is arbitrary, so each is turned to make its largest entry positive: "+" means
    the same way on every machine.
    """
    weights = np.asarray(kernel, dtype="float64")[:latent_dim]
    eigenvalues, eigenvectors = np.linalg.eigh(weights @ weights.T)
    order = np.argsort(eigenvalues)[::-1]
    directions = eigenvectors[:, order].T
    largest = directions[np.arange(len(directions)), np.abs(directions).argmax(axis=1)]
    return (directions * np.sign(largest)[:, None]).astype("float32"), eigenvalues[order]


def check_latent(latent, latent_dim: int, name: str = "Latent") -> np.ndarray:
    """`latent` as a float32 vector of `latent_dim` finite numbers, or a ValueError naming `name`."""
    if not isinstance(latent, (list, tuple, np.ndarray)) or len(latent) != latent_dim:
        raise ValueError(f"{name}: the latent must be a list of {latent_dim} numbers.")
    if not all(isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) for v in latent):
        raise ValueError(f"{name}: the latent must contain numbers only.")
    with np.errstate(over="ignore"):
        vector = np.asarray([float(v) if abs(v) < 1e300 else math.inf for v in latent], dtype="float32")
    if not np.all(np.isfinite(vector)):
        raise ValueError(f"{name}: the latent must contain finite numbers only (float32, below 3.4e38).")
    return vector


def json_depth(text: str) -> int:
    """How deeply JSON text nests arrays and objects (brackets inside strings do not count), found without
    parsing it: `json.loads` recurses once per level and fails on deep text with a RecursionError."""
    skeleton = np.frombuffer(_JSON_STRING.sub("", text).encode("utf-8", "replace"), dtype="uint8")
    steps = np.isin(skeleton, np.frombuffer(b"[{", "uint8")).astype("int64")
    steps -= np.isin(skeleton, np.frombuffer(b"]}", "uint8"))
    return int(np.cumsum(steps).max(initial=0))


def latent_to_json(latent: np.ndarray, label: int | None, model_id: str, class_names=None) -> str:
    """The shareable form of a latent and its class: floats written exactly, so reading it back
    (`latent_from_json`) gives the same image bit for bit. `model_id` ties it to one model."""
    return json.dumps(
        {
            "format": LATENT_FORMAT,
            "model": model_id,
            "latent_dim": len(latent),
            "label": None if label is None else int(label),
            "class": None if label is None or not class_names else class_names[label],
            "latent": [float(value) for value in latent],
        }
    )


def latent_from_json(
    text, model_id: str, latent_dim: int, num_classes: int | None, name: str = "Latent"
) -> tuple[np.ndarray, int | None]:
    """(latent, label) from `latent_to_json`'s text, checked against the model that reads it.

    Raises ValueError, starting with `name`, for anything else: text that is not JSON or too
    long, another format or model, a latent of the wrong length or with non-finite entries,
    a label that is not a class index (or not null for an unconditional model).
    """
    if not isinstance(text, (str, bytes)):
        raise ValueError(f"{name}: expected latent JSON text, got {type(text).__name__}.")
    if len(text) > MAX_LATENT_JSON:
        raise ValueError(f"{name}: the latent JSON is too long ({len(text)} characters, at most {MAX_LATENT_JSON}).")
    try:
        text = text.decode("utf-8") if isinstance(text, bytes) else text
    except UnicodeDecodeError as error:
        raise ValueError(f"{name}: not valid latent JSON ({error}).") from None
    if json_depth(text) > MAX_JSON_DEPTH:  # json.loads would recurse once per level, into a RecursionError
        raise ValueError(f"{name}: not valid latent JSON (nested too deeply).")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{name}: not valid latent JSON ({error}).") from None
    except ValueError:  # int() refuses numbers of more than 4,300 digits
        raise ValueError(f"{name}: not valid latent JSON (a number with too many digits).") from None
    if not isinstance(data, dict) or data.get("format") != LATENT_FORMAT:
        raise ValueError(f"{name}: not a latent exported by this app (format must be {LATENT_FORMAT!r}).")
    if data.get("model") != model_id:
        raise ValueError(
            f"{name} belongs to another model ({str(data.get('model'))[:40]!r}); this one is {model_id!r}."
        )
    latent = check_latent(data.get("latent"), latent_dim, name)
    label = data.get("label")
    if num_classes:
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < num_classes:
            raise ValueError(f"{name}: label must be a class index in 0 … {num_classes - 1}.")
    elif label is not None:
        raise ValueError(f"{name}: this model is unconditional, the label must be null.")
    return latent, label


def latent_to_text(latent: np.ndarray) -> str:
    """A latent as URL-safe base64 of its float32 bytes (little-endian): exact, and short enough for a link."""
    return base64.urlsafe_b64encode(np.asarray(latent, dtype="<f4").tobytes()).decode().rstrip("=")


def latent_from_text(text: str, latent_dim: int) -> np.ndarray:
    """The inverse of `latent_to_text`, or a ValueError."""
    if not isinstance(text, str) or len(text) > 8 * latent_dim:
        raise ValueError(f"A latent in a link must be base64 text of {latent_dim} float32 numbers.")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("A latent in a link must be URL-safe base64 text.") from None
    if len(raw) != 4 * latent_dim:
        raise ValueError(f"A latent in a link must hold {latent_dim} float32 numbers, got {len(raw) / 4:g}.")
    return check_latent(np.frombuffer(raw, dtype="<f4").astype("float32"), latent_dim, "The link's latent")
