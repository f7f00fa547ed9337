import keras
import numpy as np
import pytest

from gan_core.networks import build_discriminator, build_generator


@pytest.mark.parametrize(("size", "channels"), [(28, 1), (32, 1), (32, 3), (64, 3)])
def test_shapes_for_every_size_and_colour(size, channels):
    generator = build_generator(latent_dim=8, image_size=size, channels=channels, width=4)
    discriminator = build_discriminator(image_size=size, channels=channels, width=4)
    images = generator(np.random.default_rng(0).standard_normal((2, 8)).astype("float32"))
    assert tuple(images.shape) == (2, size, size, channels)
    assert float(keras.ops.min(images)) >= -1 and float(keras.ops.max(images)) <= 1  # tanh
    assert tuple(discriminator(images).shape) == (2, 1)


def test_width_multiplies_the_channels():
    narrow, wide = build_generator(width=8), build_generator(width=16)
    assert [layer.filters for layer in wide.layers if hasattr(layer, "filters")] == [16, 1]
    assert [layer.filters for layer in narrow.layers if hasattr(layer, "filters")] == [8, 1]
    assert [layer.filters for layer in build_discriminator(width=16).layers if hasattr(layer, "filters")] == [16, 32]


def test_conditional_networks_take_a_label():
    generator = build_generator(latent_dim=8, width=4, num_classes=10)
    discriminator = build_discriminator(width=4, num_classes=10)
    latents = np.zeros((3, 8), "float32")
    labels = np.array([0, 1, 9], "int32")
    images = generator([latents, labels])
    assert tuple(images.shape) == (3, 28, 28, 1)
    assert not np.allclose(images[0], images[1])  # the label changes the image
    assert tuple(discriminator([images, keras.ops.convert_to_tensor(labels)]).shape) == (3, 1)


def test_networks_use_keras_layers_only():
    for model in (build_generator(num_classes=3), build_discriminator(num_classes=3)):
        assert all(type(layer).__module__.startswith("keras.") for layer in model.layers)


def test_unsupported_size():
    with pytest.raises(ValueError, match=r"image_size must be one of \(28, 32, 64\), got 48"):
        build_generator(image_size=48)
