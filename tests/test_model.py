import keras
import numpy as np
import pytest
import tensorflow as tf  # tf.data feeds fit on every backend
from conftest import TINY_RECIPE, hand_checkable_gan, r1_by_hand

from gan_core import GAN, losses
from gan_core.latent import latent_from_seed
from gan_core.recipe import Recipe, build_gan
from gan_core.samples import to_uint8

pytestmark = pytest.mark.backends  # the model, training and saving on every backend


def weights(model):
    return [w.numpy().copy() for w in model.trainable_weights]


def changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def real_batch(n=16, value=0.5):
    return np.full((n, 28, 28, 1), value, dtype="float32")


def test_train_step_updates_both_networks_and_reports_finite_metrics(tiny_gan):
    g_before, d_before = weights(tiny_gan.generator), weights(tiny_gan.discriminator)
    logs = tiny_gan.train_on_batch(real_batch(), return_dict=True)
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert 0 < float(logs["d_real"]) < 1 and 0 < float(logs["d_fake"]) < 1
    assert changed(g_before, weights(tiny_gan.generator))
    assert changed(d_before, weights(tiny_gan.discriminator))


def test_generator_update_leaves_discriminator_untouched(tiny_gan):
    g_before, d_before = weights(tiny_gan.generator), weights(tiny_gan.discriminator)
    tiny_gan.train_generator(16)
    assert changed(g_before, weights(tiny_gan.generator))
    assert not changed(d_before, weights(tiny_gan.discriminator))


def test_discriminator_update_leaves_generator_untouched(tiny_gan):
    g_before, d_before = weights(tiny_gan.generator), weights(tiny_gan.discriminator)
    tiny_gan.train_discriminator(real_batch())
    assert not changed(g_before, weights(tiny_gan.generator))
    assert changed(d_before, weights(tiny_gan.discriminator))


def test_gan_learns_the_brightness_of_constant_images(tiny_gan):
    """Data: every pixel 0.5 in [−1, 1] (uint8 191). G starts near 0 and must move there."""
    target = 0.5
    start = tiny_gan.generate(list(range(64))).mean() / 127.5 - 1
    data = tf.data.Dataset.from_tensors(real_batch(value=target)).repeat()
    tiny_gan.fit(data, epochs=1, steps_per_epoch=800, verbose=0)
    end = tiny_gan.generate(list(range(64))).mean() / 127.5 - 1
    assert abs(end - target) < 0.1
    assert abs(end - target) < abs(start - target) / 3


def test_same_seed_repeats_training():
    def run():
        keras.utils.set_random_seed(7)
        gan = build_gan(TINY_RECIPE, (28, 28, 1), seed=7)
        data = tf.data.Dataset.from_tensors(real_batch()).repeat()
        history = gan.fit(data, epochs=1, steps_per_epoch=5, verbose=0)
        return history.history, gan.generate([0, 1])

    (history_a, images_a), (history_b, images_b) = run(), run()
    assert history_a == history_b
    np.testing.assert_array_equal(images_a, images_b)


def test_generate_from_seed_matches_generate_from_latent(tiny_gan):
    by_seed = tiny_gan.generate([3, 4])
    by_latent = tiny_gan.generate(latents=np.stack([latent_from_seed(3, 16), latent_from_seed(4, 16)]))
    assert by_seed.dtype == np.uint8 and by_seed.shape == (2, 28, 28, 1)
    np.testing.assert_array_equal(by_seed, by_latent)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seeds": [-1]}, "seed must be in 0"),
        ({"seeds": [2**32]}, "seed must be in 0"),
        ({"latents": np.zeros((1, 5))}, r"shape \(n, 16\)"),
        ({"latents": np.full((1, 16), np.nan)}, "finite"),
        ({"seeds": [1], "labels": [0]}, "unconditional"),
    ],
)
def test_generate_rejects_bad_input(tiny_gan, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_gan.generate(**kwargs)


def test_conditional_gan_trains_and_generates_per_class():
    keras.utils.set_random_seed(2)
    gan = build_gan(Recipe(latent_dim=16, width=8, conditional=True), (28, 28, 1), num_classes=10, seed=2)
    labels = np.arange(16, dtype="int32") % 10
    logs = gan.train_on_batch(real_batch(), labels, return_dict=True)
    assert np.isfinite(float(logs["d_loss"]))
    images = gan.generate([5, 5], labels=[0, 9])
    assert images.shape == (2, 28, 28, 1)
    assert not np.array_equal(images[0], images[1])  # same z, other class, other image
    with pytest.raises(ValueError, match="conditional"):
        gan.generate([5])
    with pytest.raises(ValueError, match=r"Labels must be in 0 … 9"):
        gan.generate([5], labels=[10])


def test_gan_keras_round_trip_keeps_weights_optimizers_and_sampler(tiny_gan, tmp_path):
    tiny_gan.fit(tf.data.Dataset.from_tensors(real_batch()).repeat(), epochs=1, steps_per_epoch=3, verbose=0)
    path = tmp_path / "gan.keras"
    tiny_gan.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, GAN)
    np.testing.assert_array_equal(loaded.generate([0, 1, 2]), tiny_gan.generate([0, 1, 2]))
    assert int(loaded.g_optimizer.iterations) == int(tiny_gan.g_optimizer.iterations) == 3
    assert loaded.gan_loss == "nonsaturating"
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded.seed_generator.state),
                                  keras.ops.convert_to_numpy(tiny_gan.seed_generator.state))  # fmt: skip
    # it can keep training
    loaded.fit(tf.data.Dataset.from_tensors(real_batch()).repeat(), epochs=1, steps_per_epoch=1, verbose=0)
    assert int(loaded.d_optimizer.iterations) == 4


def test_config_round_trip(tiny_gan):
    config = tiny_gan.get_config()
    clone = GAN.from_config(config)
    assert clone.latent_dim == 16 and clone.num_classes is None and clone.seed == 1
    assert clone.generator.count_params() == tiny_gan.generator.count_params()


def test_ema_generator_follows_the_moving_average():
    keras.utils.set_random_seed(4)
    gan = build_gan(Recipe(latent_dim=16, width=8, conditional=False, ema=0.9), (28, 28, 1), seed=4)
    batch = real_batch()

    def assert_averaged(previous, decay):
        for average, old, new in zip(gan.ema_generator.weights, previous, gan.generator.weights, strict=True):
            if new.trainable:
                expected = decay * old + (1 - decay) * new.numpy()
                np.testing.assert_allclose(average.numpy(), expected, rtol=1e-5, atol=1e-7)
            else:  # batch-norm statistics are measured separately (refresh_ema_statistics)
                np.testing.assert_array_equal(average.numpy(), old)

    before = [w.numpy() for w in gan.generator.weights]
    for average, current in zip(gan.ema_generator.weights, before, strict=True):
        np.testing.assert_array_equal(average.numpy(), current)  # starts as a copy
    gan.train_on_batch(batch)
    assert_averaged(before, decay=2 / 11)  # warm-up: (1 + t) / (10 + t) after t = 1 step
    gan.fit(tf.data.Dataset.from_tensors(real_batch()).repeat(), epochs=1, steps_per_epoch=98, verbose=0)
    before = [w.numpy() for w in gan.ema_generator.weights]
    gan.train_on_batch(batch)
    assert_averaged(before, decay=0.9)  # t = 100: (1 + t) / (10 + t) > 0.9
    assert not gan.ema_generator.trainable
    ema_ids = {id(w) for w in gan.ema_generator.weights}
    assert not any(id(v) in ema_ids for v in gan.trainable_variables)


def test_ema_batch_norm_statistics_are_measured_on_the_ema_weights():
    keras.utils.set_random_seed(6)
    gan = build_gan(Recipe(latent_dim=16, width=8, conditional=True, ema=0.5), (28, 28, 1), num_classes=3, seed=6)
    gan.fit(
        tf.data.Dataset.from_tensors((real_batch(), np.arange(16, dtype="int32") % 3)).repeat(),
        epochs=1,
        steps_per_epoch=5,
        verbose=0,
    )
    sampler_state = keras.ops.convert_to_numpy(gan.seed_generator.state).copy()
    gan.refresh_ema_statistics()
    images = gan.generate([0, 1, 2], labels=[0, 1, 2])

    ema = gan.ema_generator
    norm = next(layer for layer in ema.layers if isinstance(layer, keras.layers.BatchNormalization))
    norm_inputs = keras.Model(ema.inputs, norm.input)
    rng = np.random.default_rng(1)
    latents = rng.standard_normal((4096, 16)).astype("float32")
    activations = norm_inputs.predict([latents, np.arange(4096, dtype="int32") % 3], verbose=0)
    activations = activations.reshape(-1, activations.shape[-1])  # a batch norm's statistics are per channel
    np.testing.assert_allclose(norm.moving_mean.numpy(), activations.mean(axis=0), atol=0.02)
    np.testing.assert_allclose(norm.moving_variance.numpy(), activations.var(axis=0), rtol=0.1, atol=1e-3)
    assert norm.momentum == 0.99 and not ema.trainable
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(gan.seed_generator.state), sampler_state
    )  # training draws unchanged
    gan.refresh_ema_statistics()
    np.testing.assert_array_equal(gan.generate([0, 1, 2], labels=[0, 1, 2]), images)  # measured once per step


def test_ema_is_what_is_sampled_saved_and_restored(tmp_path):
    from gan_core import saved_model

    keras.utils.set_random_seed(5)
    gan = build_gan(Recipe(latent_dim=16, width=8, conditional=False, ema=0.5), (28, 28, 1), seed=5)
    gan.fit(tf.data.Dataset.from_tensors(real_batch()).repeat(), epochs=1, steps_per_epoch=5, verbose=0)
    gan.refresh_ema_statistics()
    sampled = gan.generate([0, 1])
    raw = to_uint8(gan.generator.predict(np.stack([latent_from_seed(s, 16) for s in (0, 1)]), verbose=0))
    assert not np.array_equal(sampled, raw)  # the raw generator is not what is sampled
    folder = saved_model.save(gan, tmp_path / "model", {"epochs": 1})
    np.testing.assert_array_equal(saved_model.load(folder).generate([0, 1]), sampled)
    restored = saved_model.load_gan(folder)
    assert restored.ema_decay == 0.5
    np.testing.assert_array_equal(restored.generate([0, 1]), sampled)


def test_input_gradients():
    from gan_core import backend

    x = np.array([[1.0, -2.0], [3.0, 0.5]], "float32")
    gradients = backend.input_gradients(lambda v: keras.ops.sum(v**2), keras.ops.convert_to_tensor(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gradients), 2 * x)


def random_real(n=8, seed=0):
    return keras.ops.convert_to_tensor(np.random.default_rng(seed).uniform(-1, 1, (n, 28, 28, 1)).astype("float32"))


def kernel(gan):
    return gan.discriminator.layers[-1].kernel.numpy().copy()


def softplus(x):
    return np.logaddexp(0, x)


# The D and G losses each loss name must train with, from D's logits (numpy, by hand).
BY_HAND = {
    "nonsaturating": (lambda r, f: softplus(-r).mean() + softplus(f).mean(), lambda f: softplus(-f).mean()),
    "minimax": (lambda r, f: softplus(-r).mean() + softplus(f).mean(), lambda f: -softplus(f).mean()),
    "hinge": (lambda r, f: np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean(), lambda f: -f.mean()),
}


def test_r1_penalty_of_a_linear_discriminator():
    """D(x) = w·x + b has ∇ₓD = w everywhere, so R1 = (γ/2)·‖w‖²."""
    discriminator = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    gan = GAN(build_gan(TINY_RECIPE, (28, 28, 1)).generator, discriminator, latent_dim=16)
    gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), r1_gamma=10.0, r1_every=1)
    kernel = discriminator.layers[-1].kernel.numpy()
    penalty = gan.r1_penalty(keras.ops.convert_to_tensor(real_batch(4)))
    assert float(penalty) == pytest.approx(0.5 * 10.0 * np.sum(kernel**2), rel=1e-5)


def test_r1_penalty_is_taken_at_the_real_images():
    """D(x) = w·(x⊙x) has ∇ₓD = 2·w⊙x: R1 = (γ/2)·mean over images of Σ 4·w²·x², different for each image."""
    gan = hand_checkable_gan(squared=True, r1_gamma=3.0)
    images = random_real(5)
    assert float(gan.r1_penalty(images)) == pytest.approx(r1_by_hand(gan, images, 3.0, squared=True), rel=1e-5)
    assert r1_by_hand(gan, images, 3.0, squared=True) != pytest.approx(r1_by_hand(gan, random_real(5, 1), 3.0, True))


@pytest.mark.parametrize("loss", list(BY_HAND))
def test_each_step_minimises_the_chosen_loss_of_ds_logits(loss):
    d_loss_by_hand, g_loss_by_hand = BY_HAND[loss]
    gan = hand_checkable_gan(loss=loss)
    d_loss, (real_logits, fake_logits) = gan.train_discriminator(random_real())
    real_logits, fake_logits = (
        keras.ops.convert_to_numpy(real_logits)[:, 0],
        keras.ops.convert_to_numpy(fake_logits)[:, 0],
    )
    assert not np.allclose(real_logits, fake_logits)  # swapping real and fake would change the loss
    assert float(d_loss) == pytest.approx(d_loss_by_hand(real_logits, fake_logits), rel=1e-5)
    # a constant D(x) = 0.7: the G loss of every fake is the loss of the logit 0.7
    dense = gan.discriminator.layers[-1]
    dense.kernel.assign(np.zeros_like(dense.kernel.numpy()))
    dense.bias.assign([0.7])
    g_loss = gan.train_generator(8)
    assert float(g_loss) == pytest.approx(g_loss_by_hand(np.full(8, 0.7)), rel=1e-5)


def test_lazy_r1_is_added_every_r1_every_d_steps_scaled_by_r1_every():
    gamma, every = 0.5, 4
    gan = hand_checkable_gan(squared=True, r1_gamma=gamma, r1_every=every)
    # As `fit` runs it on TensorFlow: a schedule fixed when traced would fail here (JAX runs it in `fit` only).
    step = tf.function(gan.train_discriminator) if keras.backend.backend() == "tensorflow" else gan.train_discriminator
    added = []
    for i in range(9):
        real = random_real(seed=i)
        expected = every * r1_by_hand(gan, real, gamma, squared=True) if i % every == 0 else 0.0
        d_loss, (real_logits, fake_logits) = step(real)
        real_logits, fake_logits = keras.ops.convert_to_numpy(real_logits), keras.ops.convert_to_numpy(fake_logits)
        gan_loss = BY_HAND["nonsaturating"][0](real_logits[:, 0], fake_logits[:, 0])
        added.append(float(d_loss) - gan_loss)
        assert added[-1] == pytest.approx(expected, rel=1e-4, abs=1e-5), f"D step {i}: {added}"
    assert int(gan.d_optimizer.iterations) == 9


def test_the_r1_penalty_pulls_ds_weights_towards_zero_in_the_update():
    """With SGD, the penalty's gradient (γ/2)·∇_w‖w‖² = γ·w moves w by exactly −lr·γ·w more than the loss alone."""
    lr, gamma = 0.01, 2.0
    plain, penalised = hand_checkable_gan(lr=lr), hand_checkable_gan(lr=lr, r1_gamma=gamma, r1_every=1)
    w = kernel(penalised)
    np.testing.assert_array_equal(kernel(plain), w)
    plain.train_discriminator(random_real())
    penalised.train_discriminator(random_real())
    np.testing.assert_allclose(kernel(penalised) - kernel(plain), -lr * gamma * w, rtol=1e-3, atol=1e-7)


def test_the_recipe_sets_the_loss_and_the_r1_schedule_and_gan_keras_keeps_them(tmp_path):
    recipe = Recipe(latent_dim=16, width=8, conditional=False, loss="hinge", r1_gamma=1.5, r1_every=8)
    gan = build_gan(recipe, (28, 28, 1), seed=6)
    assert gan.discriminator_loss is losses.hinge_discriminator_loss
    assert gan.generator_loss is losses.hinge_generator_loss
    gan.save(tmp_path / "gan.keras")
    restored = keras.saving.load_model(tmp_path / "gan.keras", safe_mode=True)
    assert (restored.gan_loss, restored.r1_gamma, restored.r1_every) == ("hinge", 1.5, 8)
    assert restored.discriminator_loss is losses.hinge_discriminator_loss


def test_the_recipe_gives_the_discriminator_its_own_learning_rate_and_gan_keras_keeps_it(tmp_path):
    recipe = Recipe(latent_dim=16, width=8, conditional=False, lr=1e-4, d_lr=4e-4)
    gan = build_gan(recipe, (28, 28, 1), seed=6)
    rates = lambda model: [float(opt.learning_rate) for opt in (model.g_optimizer, model.d_optimizer)]  # noqa: E731
    assert rates(gan) == pytest.approx([1e-4, 4e-4])
    assert rates(build_gan(Recipe(latent_dim=16, width=8, conditional=False, lr=1e-4), (28, 28, 1))) == pytest.approx(
        [1e-4, 1e-4]
    )
    gan.save(tmp_path / "gan.keras")
    assert rates(keras.saving.load_model(tmp_path / "gan.keras", safe_mode=True)) == pytest.approx([1e-4, 4e-4])


def test_a_decaying_recipe_anneals_both_rates_along_a_cosine_over_the_run_and_gan_keras_keeps_it(tmp_path):
    recipe = Recipe(latent_dim=16, width=8, conditional=False, lr=4e-4, d_lr=8e-4, lr_final=4e-5, lr_decay_epochs=None,
                    epochs=2)  # fmt: skip
    gan = build_gan(recipe, (28, 28, 1), seed=6, steps_per_epoch=50)  # 2 epochs: 100 steps

    def rates(model, step):
        for optimizer in (model.g_optimizer, model.d_optimizer):
            optimizer.iterations.assign(step)
        return [float(optimizer.learning_rate) for optimizer in (model.g_optimizer, model.d_optimizer)]

    assert rates(gan, 0) == pytest.approx([4e-4, 8e-4])
    assert rates(gan, 50) == pytest.approx([2.2e-4, 4.4e-4])  # half-way down the cosine, D in the same ratio
    assert rates(gan, 100) == pytest.approx([4e-5, 8e-5])
    assert rates(gan, 300) == pytest.approx([4e-5, 8e-5])  # trained further: the final rate
    assert rates(build_gan(recipe, (28, 28, 1)), 50) == pytest.approx([4e-4, 8e-4])  # no horizon: constant
    gan.save(tmp_path / "gan.keras")
    assert rates(keras.saving.load_model(tmp_path / "gan.keras", safe_mode=True), 75) == pytest.approx(rates(gan, 75))


def test_a_shorter_decay_reaches_the_final_rate_early_and_stays_there():
    recipe = Recipe(latent_dim=16, width=8, conditional=False, lr=6e-4, lr_final=2e-4, lr_decay_epochs=2, epochs=10)
    gan = build_gan(recipe, (28, 28, 1), seed=6, steps_per_epoch=50)
    rates = []
    for step in (0, 50, 100, 400):
        gan.g_optimizer.iterations.assign(step)
        rates.append(float(gan.g_optimizer.learning_rate))
    assert rates == pytest.approx([6e-4, 4e-4, 2e-4, 2e-4])  # down the cosine in 2 of the 10 epochs, then level


def test_spectral_norm_with_lazy_r1_trains_through_fit():
    """R1 runs D inside a traced branch (ops.cond): a spectral norm's power iteration must not update there."""
    keras.utils.set_random_seed(3)
    recipe = Recipe(latent_dim=16, width=8, spectral_norm=True, r1_gamma=1.0, r1_every=2)
    gan = build_gan(recipe, (28, 28, 1), num_classes=3, seed=3, jit_compile=True)
    d_before = weights(gan.discriminator)
    data = tf.data.Dataset.from_tensors((real_batch(), np.arange(16, dtype="int32") % 3)).repeat()
    history = gan.fit(data, epochs=1, steps_per_epoch=4, verbose=0).history
    assert np.isfinite(history["d_loss"][0]) and int(gan.d_optimizer.iterations) == 4
    assert changed(d_before, weights(gan.discriminator))
