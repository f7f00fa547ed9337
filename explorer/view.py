"""The current view: which latent is on screen, and the share link that reopens it exactly.

A view is a starting latent — a seed's z, or a latent of its own (an arithmetic
result, an interpolation frame, an upload) — scaled by ψ, moved along the
directions by the sliders' strengths, and drawn in a class:

    z = ψ · z₀ + Σᵢ sᵢ dᵢ

A link holds the same fields: `?seed=42&class=Sneaker&psi=0.8&d1=2.5`, or
`?z=<base64 float32>&…` for a latent of its own.
"""

import dataclasses
import hashlib
import urllib.parse

import numpy as np

from explorer import pictures
from explorer.checks import number, shown
from gan_core import latent as latents

QUERY_KEYS = ("seed", "z", "class", "psi")  # and d1 … dK


@dataclasses.dataclass(frozen=True)
class View:
    seed: int
    psi: float = 1.0
    label: int | None = None
    base: np.ndarray | None = None  # replaces the seed's latent when set
    strengths: tuple[float, ...] = ()

    def start(self, latent_dim: int) -> np.ndarray:
        return self.base if self.base is not None else latents.latent_from_seed(self.seed, latent_dim)

    def latent(self, directions: np.ndarray) -> np.ndarray:
        """ψ · z₀ + Σᵢ sᵢ dᵢ, or a ValueError when that leaves float32's range (a base latent near its limit)."""
        z = self.psi * self.start(directions.shape[1]).astype("float64")
        z += np.asarray(self.strengths, dtype="float64") @ directions[: len(self.strengths)]
        if not np.all(np.abs(z) <= np.finfo("float32").max):
            raise ValueError("ψ · latent + steering leaves float32's range (±3.4e38); lower ψ or use a smaller latent.")
        return z.astype("float32")

    def caption(self, class_names) -> str:
        """What the view is, in short words: "seed 42 · Sneaker · ψ 0.8 · d1 +2.5"."""
        return " · ".join(self._words(class_names))

    def _words(self, class_names) -> list[str]:
        words = ["own latent" if self.base is not None else f"seed {self.seed}"]
        if self.label is not None:
            words.append(class_names[self.label])
        if self.psi != 1:
            words.append(f"ψ {self.psi:g}")
        words += [f"d{i + 1} {s:+g}" for i, s in enumerate(self.strengths) if s]
        return words

    def stem(self, class_names) -> str:
        """A file name for the view's picture: "seed-42-sneaker-psi0.8-d1+2.5", or "latent-<8 hex>-…" for a
        latent of its own (the first hex digits of its bytes' SHA-1)."""
        own = self.base is not None
        parts = [f"latent-{hashlib.sha1(self.base.tobytes()).hexdigest()[:8]}" if own else f"seed-{self.seed}"]
        if self.label is not None:
            parts.append(pictures.slug(class_names[self.label]) or f"class-{self.label}")
        if self.psi != 1:
            parts.append(f"psi{self.psi:g}")
        parts += [f"d{i + 1}{s:+g}" for i, s in enumerate(self.strengths) if s]
        return pictures.slug(*parts)

    def query(self, class_names) -> str:
        """The link's query string; fields at their defaults are left out."""
        fields = {"z": latents.latent_to_text(self.base)} if self.base is not None else {"seed": self.seed}
        if self.label is not None:
            fields["class"] = class_names[self.label]
        if self.psi != 1:
            fields["psi"] = _exact(self.psi)
        fields.update({f"d{i + 1}": _exact(s) for i, s in enumerate(self.strengths) if s})
        return urllib.parse.urlencode(fields)


def parse_query(query, latent_dim: int, class_names, limits, psi_range) -> View:
    """The view a link's query (a string or a mapping) opens, or a ValueError that names the bad field.

    `limits` are the directions' (low, high) slider bounds, `psi_range` ψ's.
    """
    if isinstance(query, str):
        query = dict(urllib.parse.parse_qsl(query.lstrip("?"), keep_blank_values=True))
    unnamed = [key for key in query if not isinstance(key, str)]
    if unnamed:
        raise ValueError(f"A link's fields must be named by text, got {shown(unnamed[0])}.")
    query = {key: value for key, value in query.items() if not key.startswith("__")}  # Gradio's own, e.g. __theme
    direction_keys = [f"d{i + 1}" for i in range(len(limits))]
    unknown = sorted(set(query) - set(QUERY_KEYS) - set(direction_keys))
    if unknown:
        raise ValueError(
            f"Unknown link field {shown(unknown[0])}; a link may hold {', '.join(QUERY_KEYS)}, d1 … d{len(limits)}."
        )
    if "seed" in query and "z" in query:
        raise ValueError("A link holds a seed or a latent (z), not both.")
    base = latents.latent_from_text(query["z"], latent_dim) if "z" in query else None
    seed = 0 if base is not None else number(query.get("seed", "0"), "The link's seed", 0, latents.MAX_SEED, True)
    label = None
    if "class" in query:
        if not class_names:
            raise ValueError("This model is unconditional: a link to it has no class.")
        if query["class"] not in class_names:
            raise ValueError(
                f"Unknown class {shown(query['class'])} in the link; this model has {', '.join(class_names)}."
            )
        label = class_names.index(query["class"])
    elif class_names:
        label = int(latents.labels_for_seeds([seed], len(class_names))[0])
    psi = number(query.get("psi", "1"), "The link's psi", *psi_range)
    strengths = tuple(
        number(query.get(key, "0"), f"The link's {key}", *limit)
        for key, limit in zip(direction_keys, limits, strict=True)
    )
    return View(seed, psi, label, base, strengths)


def _exact(value: float) -> str:
    """The shortest text that reads back as exactly `value`: "2" for 2.0, "0.123456789" as it is."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
