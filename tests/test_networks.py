import keras
import numpy as np
import pytest
from conftest import give_each_class_its_own_norms

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


def test_conditional_batch_norm_starts_neutral_and_then_depends_on_the_class():
    generator = build_generator(latent_dim=8, width=4, num_classes=10, conditional_norm=True)
    assert [type(layer).__name__ for layer in generator.layers].count("Embedding") == 1  # one shared embedding
    assert generator.get_layer(index=1).name != "concatenate" and not any(
        isinstance(layer, keras.layers.Concatenate) for layer in generator.layers
    )  # z alone enters the dense layer
    latents = np.random.default_rng(0).standard_normal((2, 8)).astype("float32")
    first, last = np.zeros(2, "int32"), np.full(2, 9, "int32")
    # γ(e) starts at 1 and β(e) at 0 for every class, so at first the class changes nothing ...
    np.testing.assert_allclose(generator([latents, first], training=True), generator([latents, last], training=True))
    give_each_class_its_own_norms(generator)
    # ... and once the projections of the embedding have learned something, it does.
    assert not np.allclose(generator([latents, first], training=True), generator([latents, last], training=True))


def test_a_mix_of_two_class_embeddings_is_a_valid_input_with_conditional_batch_norm(tmp_path):
    from gan_core import saved_model
    from gan_core.recipe import Recipe, build_gan

    keras.utils.set_random_seed(0)
    gan = build_gan(Recipe(latent_dim=8, width=4, conditional_norm=True, ema=None), (28, 28, 1), num_classes=3, seed=0)
    give_each_class_its_own_norms(gan.generator)
    generator = saved_model.load(saved_model.save(gan, tmp_path / "model", {"epochs": 0}))
    z_dense = next(layer for layer in gan.generator.layers if isinstance(layer, keras.layers.Dense))
    np.testing.assert_array_equal(generator.first_layer_kernel(), z_dense.kernel)  # SeFa reads z's layer
    assert generator.first_layer_kernel().shape == (8, 7 * 7 * 8)
    one_hot = generator.generate([5], labels=np.array([[0.0, 1.0, 0.0]]))
    np.testing.assert_array_equal(one_hot, generator.generate([5], labels=[1]))
    halfway = generator.generate([5], labels=np.array([[0.5, 0.5, 0.0]]))
    assert not np.array_equal(halfway, one_hot) and not np.array_equal(halfway, generator.generate([5], labels=[0]))


def test_spectral_norm_keeps_every_discriminator_layer_at_spectral_norm_one():
    discriminator = build_discriminator(width=4, num_classes=10, spectral_norm=True)
    wrapped = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert [type(layer.layer).__name__ for layer in wrapped] == ["Conv2D", "Conv2D", "Dense", "Dense"]
    images = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    labels = np.arange(4, dtype="int32")
    for layer in wrapped:  # far from norm 1 before training
        layer.kernel.assign(layer.kernel * 10.0)
    for _ in range(30):  # one power iteration per training call
        discriminator([images, labels], training=True)
    for layer in wrapped:
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        largest = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
        assert largest == pytest.approx(1.0, rel=0.05), layer.name
    logits = discriminator([images, labels], training=True)
    assert np.all(np.isfinite(logits)) and logits.dtype == "float32"  # the projection stays a float
