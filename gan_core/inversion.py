"""GAN inversion: the latent (and class) whose image best matches a given picture.

Gradient descent on z from several random starts at once, for each candidate class
(those the shipped Fashion-MNIST classifier finds most likely, or every class of a
model it cannot judge), on

    mean (G(z) − x)²  +  FEATURE_WEIGHT · mean (f(G(z)) − f(x))²  +  PRIOR_WEIGHT · (‖z‖/√d − 1)²

where f is the classifier's feature layer (what the image shows, not just where its
pixels are) and the last term keeps z on the shell where the generator was trained
(`latent.typical_norm`). Between classes, the classifier's belief that the picture shows the
class is a prior: a start's loss is ranked with CLASS_WEIGHT · −log p(class | x) added, so a
reconstruction that is a hair closer in another class (a boot drawn as a Sandal that is nearly
a boot) does not outrank the class the picture clearly shows. After a quarter of the steps
only the two best starts go on (the steps of a small batch cost a fraction of a large one's),
and the better of them wins. The settings below were chosen with `bench/inversion.py` on this project's
2-core machine (bench/README.md).
"""

import dataclasses
import math
from collections.abc import Callable

import keras
import numpy as np
from keras import ops

from gan_core import backend, metrics
from gan_core.data import FASHION_MNIST_CLASSES
from gan_core.image_input import has_dark_background, read_image, to_model_pixels
from gan_core.samples import to_unit_range

STEPS = 200
LEARNING_RATE = 0.05
RESTARTS = 8
CANDIDATE_CLASSES = 3
FEATURE_WEIGHT = 0.05
PRIOR_WEIGHT = 0.5
CLASS_WEIGHT = 0.03
LEAST_PROBABILITY = 1e-6  # the classifier's belief is floored here: a class it rules out costs a finite 0.41
ADAM = (0.9, 0.999, 1e-8)
SEARCH_SHARE = 0.25  # of the steps taken by every start; the rest by the REFINED best starts only
REFINED = 2
PROGRESS_EVERY = 25  # steps between progress reports


@dataclasses.dataclass(frozen=True)
class Inversion:
    """The result: `image` = G(`latent`, `label`) is the generator's closest picture to `target`."""

    latent: np.ndarray  # (latent_dim,) float32
    label: int | None
    image: np.ndarray  # uint8 H×W×C
    target: np.ndarray  # the picture as the model sees it, uint8 H×W×C
    error: float  # mean absolute pixel difference, 0 … 255


class Inverter:
    """Inverts pictures into one generator's latent space; built once per model (it compiles one step)."""

    def __init__(
        self,
        generator,
        restarts: int = RESTARTS,
        steps: int = STEPS,
        learning_rate: float = LEARNING_RATE,
        classifier: keras.Model | None = None,
    ):
        """`classifier`: the shipped classifier if the caller has it loaded already (it is loaded otherwise)."""
        self.generator = generator
        self.restarts, self.steps, self.learning_rate = restarts, steps, learning_rate
        judged = generator.image_shape == (28, 28, 1)
        self.classifier = (classifier or metrics.load_classifier()) if judged else None
        self.knows_classes = judged and generator.class_names == list(FASHION_MNIST_CLASSES)
        samples = generator.generate(list(range(16)), labels=None if not generator.num_classes else 0)
        self.dark_background = has_dark_background(samples)
        self._step = backend.compile_function(self._adam_step, xla=True)  # 1.2× faster on 2 CPU cores

    def prepare(self, source) -> np.ndarray:
        """Any picture `read_image` accepts → uint8 pixels of the model's size and channels."""
        dataset = self.generator.metadata.get("dataset")
        return to_model_pixels(read_image(source), self.generator.image_shape, dataset, self.dark_background)

    def candidate_classes(self, target: np.ndarray) -> dict[int | None, float]:
        """The classes worth trying for `target`, each with the cost its prior adds to a start's loss:
        the classifier's likeliest ones for a Fashion-MNIST model, else every class at no cost (or an
        unconditional model's one)."""
        if not self.generator.num_classes:
            return {None: 0.0}
        if not self.knows_classes:
            return dict.fromkeys(range(self.generator.num_classes), 0.0)
        _, probabilities = metrics.embed(self.classifier, target[None])
        likeliest = np.argsort(-probabilities[0])[:CANDIDATE_CLASSES]
        floored = np.maximum(probabilities[0], LEAST_PROBABILITY)
        return {int(label): -CLASS_WEIGHT * math.log(floored[label]) for label in likeliest}

    def __call__(self, source, seed: int = 0, progress: Callable[[float], None] | None = None) -> Inversion:
        """Invert `source` (see `prepare`); `progress(fraction)` is called as the descent goes."""
        target = self.prepare(source)
        costs = self.candidate_classes(target)
        classes = list(costs)
        starts = max(1, self.restarts * CANDIDATE_CLASSES // len(classes)) if classes[0] is not None else self.restarts
        class_costs = np.repeat([costs[label] for label in classes], starts)
        labels = None if classes[0] is None else ops.convert_to_tensor(np.repeat(np.asarray(classes, "int32"), starts))
        count = starts * len(classes)
        z = np.random.default_rng(seed).standard_normal((count, self.generator.latent_dim)).astype("float32")
        pixels = to_unit_range(target[None])
        features = self.classifier(pixels)[0] if self.classifier is not None else ops.zeros((1, 1))
        state = (ops.convert_to_tensor(z), ops.zeros_like(z), ops.zeros_like(z))
        # Search from every start, then refine only the most promising ones: the steps of a small batch cost
        # a fraction of a large one's.
        search = round(self.steps * SEARCH_SHARE)

        def descend(state, labels, steps):
            for step in steps:
                *state, losses = self._step(*state, ops.convert_to_tensor(float(step)), pixels, features, labels)
                if progress and (step % PROGRESS_EVERY == 0 or step == self.steps):
                    progress(step / self.steps)
            return state, losses

        state, losses = descend(state, labels, range(1, search + 1))
        kept = np.argsort(ops.convert_to_numpy(losses) + class_costs)[:REFINED]
        class_costs = class_costs[kept]
        kept = ops.convert_to_tensor(kept)
        state = [ops.take(part, kept, axis=0) for part in state]
        labels = None if labels is None else ops.take(labels, kept, axis=0)
        state, losses = descend(state, labels, range(search + 1, self.steps + 1))
        best = int(np.argmin(ops.convert_to_numpy(losses) + class_costs))
        latent = ops.convert_to_numpy(state[0])[best]
        label = None if labels is None else int(ops.convert_to_numpy(labels)[best])
        image = self.generator.generate(latents=latent[None], labels=None if label is None else [label])[0]
        return Inversion(latent, label, image, target, float(reconstruction_error(image[None], target[None])[0]))

    def _losses(self, z, pixels, features, labels):
        inputs = z if labels is None else [z, labels]
        images = self.generator.model(inputs, training=False)
        losses = ops.mean(ops.square(images - pixels), axis=(1, 2, 3))
        if self.classifier is not None:
            losses += FEATURE_WEIGHT * ops.mean(ops.square(self.classifier(images)[0] - features), axis=1)
        shell = ops.norm(z, axis=1) / math.sqrt(self.generator.latent_dim) - 1.0
        return losses + PRIOR_WEIGHT * ops.square(shell)

    def _adam_step(self, z, m, v, step, pixels, features, labels):
        """One Adam step on each start's own loss (the starts are independent), written out so the optimizer
        state is plain tensors: a fresh inversion needs no new variables and no new trace."""
        losses, gradients = backend.value_and_gradient(lambda z: self._losses(z, pixels, features, labels), z)
        beta_1, beta_2, epsilon = ADAM
        m = beta_1 * m + (1 - beta_1) * gradients
        v = beta_2 * v + (1 - beta_2) * ops.square(gradients)
        m_hat, v_hat = m / (1 - beta_1**step), v / (1 - beta_2**step)
        return z - self.learning_rate * m_hat / (ops.sqrt(v_hat) + epsilon), m, v, losses


def reconstruction_error(images: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Mean absolute pixel difference (0 … 255) of each image from its target."""
    return np.abs(images.astype("float32") - targets.astype("float32")).mean(axis=(1, 2, 3))
