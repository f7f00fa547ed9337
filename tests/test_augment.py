import dataclasses

import keras
import numpy as np
import pytest
from conftest import TINY_RECIPE, hand_checkable_gan

from gan_core import GAN, backend
from gan_core.augment import (
    cutout,
    diff_augment,
    parse_policy,
    random_color,
    random_cutout,
    random_translation,
    translate,
)
from gan_core.recipe import build_gan

pytestmark = pytest.mark.backends  # the model, training and saving on every backend


def random_images(n=6, size=12, channels=1, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, channels)).astype("float32")


def numpy_translate(image, dy, dx):
    out = np.zeros_like(image)
    h, w = image.shape[:2]
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[i, j] = image[i - dy, j - dx]
    return out


def test_parse_policy_accepts_known_groups_and_explains_bad_ones():
    assert parse_policy(None) == ()
    assert parse_policy("") == ()
    assert parse_policy("color, translation,cutout") == ("color", "translation", "cutout")
    with pytest.raises(ValueError, match=r"'color,flip'.*color, translation, cutout"):
        parse_policy("color,flip")
    with pytest.raises(ValueError, match="distinct"):
        parse_policy("cutout,cutout")


def test_translate_matches_a_zero_filled_shift():
    images = random_images(4)
    shifts_y, shifts_x = np.array([0, 2, -3, 11]), np.array([1, -1, 4, -12])
    out = keras.ops.convert_to_numpy(translate(images, shifts_y, shifts_x))
    for image, result, dy, dx in zip(images, out, shifts_y, shifts_x, strict=True):
        np.testing.assert_array_equal(result, numpy_translate(image, dy, dx))


def test_cutout_zeroes_exactly_the_rectangle_clipped_to_the_image():
    images = random_images(2, channels=3) + 2.0  # no zeros of its own
    out = keras.ops.convert_to_numpy(cutout(images, np.array([5, 0]), np.array([6, 11]), 4, 6))
    expected = images.copy()
    expected[0, 3:7, 3:9] = 0
    expected[1, 0:2, 8:12] = 0
    np.testing.assert_array_equal(out, expected)


def test_random_translation_shifts_each_image_by_at_most_an_eighth():
    images = random_images(16, size=16)
    out = keras.ops.convert_to_numpy(random_translation(images, keras.random.SeedGenerator(1)))
    shifts = []
    for image, result in zip(images, out, strict=True):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.allclose(result, numpy_translate(image, dy, dx), atol=1e-6)
        ]
        assert len(matches) == 1
        shifts.append(matches[0])
    assert len(set(shifts)) > 1


def test_random_cutout_zeroes_one_half_size_square_per_image():
    images = random_images(16, size=16) + 2.0
    out = keras.ops.convert_to_numpy(random_cutout(images, keras.random.SeedGenerator(2)))
    for image, result in zip(images, out, strict=True):
        hole = result[..., 0] == 0
        rows, cols = np.nonzero(hole)
        assert 0 < hole.sum() <= 8 * 8
        assert hole[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
        np.testing.assert_array_equal(result[~hole], image[~hole])


def test_random_color_is_a_per_image_affine_map_for_grey_images():
    images = random_images(8)
    out = keras.ops.convert_to_numpy(random_color(images, keras.random.SeedGenerator(3)))
    scales = []
    for image, result in zip(images, out, strict=True):
        x, y = image.ravel(), result.ravel()
        scale, offset = np.polyfit(x, y, 1)
        np.testing.assert_allclose(scale * x + offset, y, atol=1e-4)
        scales.append(scale)
    assert all(0.5 - 1e-4 <= s <= 1.5 + 1e-4 for s in scales)
    assert np.ptp(scales) > 0.05


def test_empty_policy_is_the_identity_and_a_seed_repeats_the_augmentation():
    images = random_images()
    assert diff_augment(images, (), keras.random.SeedGenerator(0)) is images
    policy = parse_policy("color,translation,cutout")
    first = diff_augment(images, policy, keras.random.SeedGenerator(7))
    again = diff_augment(images, policy, keras.random.SeedGenerator(7))
    other = diff_augment(images, policy, keras.random.SeedGenerator(8))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_gradients_pass_through_the_augmentation():
    """G learns through D's augmentation: ∂/∂x of sum(cutout(x)) is 1 outside the hole and 0 inside."""
    images = keras.ops.convert_to_tensor(random_images(2))
    gradients = backend.input_gradients(lambda x: cutout(x, np.array([6, 6]), np.array([6, 6]), 4, 4), images)
    expected = np.ones_like(random_images(2))
    expected[:, 4:8, 4:8] = 0
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(gradients), expected)
    policy = parse_policy("color,translation,cutout")
    gradients = backend.input_gradients(lambda x: diff_augment(x, policy, keras.random.SeedGenerator(0)), images)
    gradients = keras.ops.convert_to_numpy(gradients)
    assert np.isfinite(gradients).all() and np.abs(gradients).sum() > 0


def replayed(gan):
    """A seed generator in the state `gan`'s is in now: it makes the same draws, in the same order."""
    replay = keras.random.SeedGenerator(0)
    replay.state.assign(keras.ops.convert_to_numpy(gan.seed_generator.state))
    return replay


def linear_logits(gan, images):
    return keras.ops.convert_to_numpy(gan.discriminator(images))[:, 0]


def test_d_sees_every_real_and_fake_image_augmented_by_the_gans_own_draws():
    real = keras.ops.convert_to_tensor(random_images(8, size=28))
    gan = hand_checkable_gan(augment="translation,cutout")
    # what D must see, replayed before the step: the latents are drawn first, then the augmentation
    replay = replayed(gan)
    fakes = gan.generator(keras.random.normal((8, 16), seed=replay), training=True)
    seen = diff_augment(keras.ops.concatenate([real, fakes]), gan.augment_policy, replay)
    expected, unaugmented = linear_logits(gan, seen), linear_logits(gan, keras.ops.concatenate([real, fakes]))
    _, (real_logits, fake_logits) = gan.train_discriminator(real)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(real_logits)[:, 0], expected[:8], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fake_logits)[:, 0], expected[8:], rtol=1e-5, atol=1e-5)
    assert np.abs(expected - unaugmented).min() > 1e-3  # every image D saw was changed by the augmentation

    plain = hand_checkable_gan()  # the same weights and draws, no policy: D sees the images themselves
    real_seen = linear_logits(plain, real)
    _, (plain_real_logits, _) = plain.train_discriminator(real)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(plain_real_logits)[:, 0], real_seen, rtol=1e-5, atol=1e-5)


def test_g_is_scored_on_augmented_fakes():
    gan = hand_checkable_gan(augment="cutout")
    replay = replayed(gan)
    fakes = gan.generator(keras.random.normal((8, 16), seed=replay), training=True)
    augmented = linear_logits(gan, diff_augment(fakes, ("cutout",), replay))
    g_loss = float(gan.train_generator(8))
    assert g_loss == pytest.approx(float(np.logaddexp(0, -augmented).mean()), rel=1e-5)  # −log σ(D(augment(G(z))))
    assert g_loss != pytest.approx(float(np.logaddexp(0, -linear_logits(gan, fakes)).mean()), rel=1e-3)


def test_the_same_seed_repeats_the_augmented_training_and_another_seed_does_not():
    real = keras.ops.convert_to_tensor(random_images(8, size=28))

    def d_logits(seed):
        gan = hand_checkable_gan(augment="color,translation,cutout")
        gan.seed_generator.state.assign(
            keras.ops.convert_to_numpy(keras.random.SeedGenerator(seed).state)
        )  # the same weights
        _, (real_logits, _) = gan.train_discriminator(real)
        return keras.ops.convert_to_numpy(real_logits)

    np.testing.assert_array_equal(d_logits(3), d_logits(3))
    assert not np.allclose(d_logits(3), d_logits(4))


def test_a_gans_policy_survives_its_config():
    gan = build_gan(dataclasses.replace(TINY_RECIPE, augment="translation,cutout"), (28, 28, 1), seed=0)
    assert gan.augment_policy == ("translation", "cutout")
    restored = GAN.from_config(gan.get_config())
    assert restored.augment == "translation,cutout"
    assert restored.augment_policy == ("translation", "cutout")
