"""gan_core: train GANs with Keras 3, save them, and sample from them.

Importing the package registers `GAN` with Keras, so
`keras.saving.load_model("…/gan.keras")` works with `safe_mode=True`.
"""

from gan_core import backend  # noqa: F401  (first: it starts TensorFlow, quietly)
from gan_core.model import GAN
from gan_core.saved_model import SavedGenerator, load

__all__ = ["GAN", "SavedGenerator", "load"]
