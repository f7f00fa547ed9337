"""Data-parallel training on two devices of this CPU: the same step as on one device, once per step.

Each case runs `tests/distributed.py` in a process of its own, which splits the CPU into two
devices before the backend starts (TensorFlow: logical devices; JAX: the host platform's
device count).
"""

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import REPO, TINY_TRAIN_FLAGS, free_port
from test_train_cli import history, run_train, start_and_stop_at_epoch

import gan_core
from gan_core import saved_model

pytestmark = pytest.mark.backends  # the model, training and saving on every backend

TWO_DEVICES = ("tests/distributed.py", "2", "train")


@pytest.fixture(scope="module")
def steps(tmp_path_factory):
    """Three training steps of a GAN without batch norm (EMA, R1, classes), on one device and on two."""
    out = tmp_path_factory.mktemp("steps") / "steps.npz"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "tests/distributed.py", "2", "step", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(np.load(out))


def test_a_two_device_step_equals_a_one_device_step_on_the_whole_batch(steps):
    assert list(steps["devices_holding"]) == [1, 2]  # the second run did train on both devices
    moved = np.abs(steps["one"] - steps["start"]).max()
    assert moved > 1e-3  # the steps changed the weights (the same on both would be trivial otherwise)
    # every weight (G, D, the EMA generator, the sampler's state) as on one device, to float rounding
    np.testing.assert_allclose(steps["many"], steps["one"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(steps["many_d_loss"], steps["one_d_loss"], rtol=1e-5)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="replicas are TensorFlow's (JAX: one program)")
def test_each_replica_draws_its_own_slice_of_the_latents_one_device_would_draw(steps):
    first, second = steps["replica_latents"]
    assert first.shape == (8, 16)
    assert np.abs(first - second).min() > 0  # no latent is shared: not the same draw on both replicas
    np.testing.assert_array_equal(np.concatenate([first, second]), steps["one_device_latents"])


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="replicas are TensorFlow's (JAX: one program)")
def test_each_replica_augments_with_its_own_slice_of_one_draw(steps):
    first, second = steps["replica_augmented"]  # both replicas augmented the same 8 images
    assert first.shape == steps["share"].shape == (8, 28, 28, 1)
    assert np.abs(first - steps["share"]).max(axis=(1, 2, 3)).min() > 0.1  # every image was augmented
    assert np.abs(first - second).max(axis=(1, 2, 3)).min() > 0.1  # and no two replicas' draws are the same
    np.testing.assert_allclose(np.concatenate([first, second]), steps["one_device_augmented"], rtol=0, atol=1e-5)


def test_a_two_device_run_resumes_after_kill_9_and_does_each_epochs_work_once(idx_dir, tmp_path):
    run_dir = tmp_path / "run"
    args = ["--data-dir", idx_dir, "--epochs", "4", "--steps-per-epoch", "10", "--devices", "2",
            "--out", run_dir, *TINY_TRAIN_FLAGS]  # fmt: skip
    code, _, done = start_and_stop_at_epoch(args, run_dir, 2, signal.SIGKILL, script=TWO_DEVICES)
    assert code == -signal.SIGKILL and 2 <= done < 4

    resumed = run_train(*args, script=TWO_DEVICES)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Data-parallel on 2 devices" in resumed.stdout
    assert f"Resuming the interrupted run in {run_dir} after epoch {done} of 4" in resumed.stdout
    assert history(run_dir) == [1, 2, 3, 4]
    assert sorted(path.name for path in (run_dir / "samples").iterdir()) == [f"epoch_00{i}.png" for i in (1, 2, 3, 4)]
    gan = saved_model.load_gan(run_dir)
    assert int(gan.g_optimizer.iterations) == int(gan.d_optimizer.iterations) == 40  # one update a step, not two
    assert gan_core.load(run_dir).metadata["training"]["steps"] == 40


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="TensorFlow's multi-worker strategy does not work with "
                    "Keras 3 (keras-team/keras#20585)")  # fmt: skip
def test_two_processes_train_as_two_hosts_as_one_device_would(steps, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    port = str(free_port())
    hosts = [subprocess.Popen([sys.executable, "tests/distributed.py", "1", "host", port, str(index),
                               str(tmp_path / f"{index}.npz")], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
             for index in (0, 1)]  # fmt: skip
    for host in hosts:
        _, stderr = host.communicate(timeout=300)
        assert host.returncode == 0, stderr[-3000:]
    first, second = np.load(tmp_path / "0.npz"), np.load(tmp_path / "1.npz")
    assert int(first["devices"]) == 2 and int(first["holding"]) == 2  # one device each, one model over both
    np.testing.assert_array_equal(first["weights"], second["weights"])
    np.testing.assert_array_equal(first["d_loss"], second["d_loss"])
    # and the steps are those of one device on the same batches
    np.testing.assert_allclose(first["weights"], steps["one"], rtol=0, atol=1e-5)


def readme_launch(run_dir: Path) -> list[tuple[dict, list[str]]]:
    """The README's commands for two machines, on 127.0.0.1: each process's environment and train.py flags."""
    (code,) = [code for code in re.findall(r"```bash\n(.*?)\n```", (REPO / "README.md").read_text(), flags=re.DOTALL)
               if "KERAS_DISTRIBUTION_PROCESS_ID" in code]  # fmt: skip
    code = code.replace("10.0.0.1:1234", f"127.0.0.1:{free_port()}").replace("/shared/runs/two-hosts", str(run_dir))
    export, *commands = code.splitlines()
    shared = dict(word.split("=", 1) for word in shlex.split(export)[1:])
    launches = []
    for command in commands:
        words = shlex.split(command, comments=True)
        assert words[words.index("python") :][:2] == ["python", "train.py"]
        launches.append(({**shared, **dict(word.split("=", 1) for word in words[: words.index("python")])},
                         words[words.index("train.py") + 1 :]))  # fmt: skip
    return launches


def train_in_processes(run_dir: Path, *args) -> list[subprocess.CompletedProcess]:
    """The README's two-process `python train.py` commands with `args` added, each process on one CPU device,
    with a temporary folder of its own (`run_dir`.tmp-N) and its output in files (a full pipe would stall it)."""
    started = []
    with contextlib.ExitStack() as files:
        try:
            for index, (env, flags) in enumerate(readme_launch(run_dir)):
                temporary = run_dir.with_name(f"{run_dir.name}.tmp-{index}")
                temporary.mkdir(exist_ok=True)
                out, err = (files.enter_context(open(f"{temporary}.{name}", "w+")) for name in "oe")
                env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TMPDIR": str(temporary), **env}
                command = [sys.executable, "train.py", *flags, *map(str, args)]
                started.append((subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=err), out, err))
            for host, _, _ in started:
                host.wait(timeout=300)
        finally:
            for host, _, _ in started:
                host.kill()
        for _, out, err in started:
            out.seek(0), err.seek(0)
        return [subprocess.CompletedProcess(host.args, host.returncode, out.read(), err.read())
                for host, out, err in started]  # fmt: skip


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="TensorFlow's multi-worker strategy does not work with "
                    "Keras 3 (keras-team/keras#20585)")  # fmt: skip
def test_the_readmes_two_machine_commands_write_one_run_and_extend_it(idx_dir, tmp_path):
    run_dir = tmp_path / "run"
    args = ["--data-dir", idx_dir, "--steps-per-epoch", "5", *TINY_TRAIN_FLAGS]
    first, second = train_in_processes(run_dir, *args, "--epochs", "2")
    assert first.returncode == second.returncode == 0, (first.stderr[-3000:], second.stderr[-3000:])
    assert "Data-parallel on 2 devices" in first.stdout and "epoch 2/2" in first.stdout.lower()
    assert f"Saved the model to {run_dir / 'model'}" in first.stdout
    assert f"Process 1 of 2 is done: process 0 saved the model to {run_dir / 'model'}" in second.stdout
    assert "epoch 2/2" not in second.stdout.lower()  # one progress report, not one per process
    assert history(run_dir) == [1, 2] and len(list((run_dir / "samples").iterdir())) == 2
    assert int(saved_model.load_gan(run_dir).g_optimizer.iterations) == 10  # 5 steps an epoch, not 5 per process

    extended = train_in_processes(run_dir, *args, "--resume", "--epochs", "3")  # the second process copies the model
    assert [done.returncode for done in extended] == [0, 0], extended[1].stderr[-3000:]
    assert "Training the finished model" in extended[1].stdout
    assert history(run_dir) == [1, 2, 3]
    assert int(saved_model.load_gan(run_dir).g_optimizer.iterations) == 15
    assert sorted(path.name for path in run_dir.iterdir()) == [".lock", "best", "history.csv", "model", "run.json",
                                                                "samples"]  # fmt: skip
    assert saved_model.read_metadata(run_dir / "best")["quality"]["fd"] > 0  # FD, sampled over both processes
    assert list(run_dir.with_name("run.tmp-1").iterdir()) == []  # the second process's copy is gone

    refused = train_in_processes(run_dir, *args, "--epochs", "3")  # finished: process 0 refuses, and the other says so
    assert [done.returncode for done in refused] == [2, 2]
    assert "already holds a finished model" in refused[0].stderr
    assert "process 0 refused the run: " in refused[1].stderr and "already holds a finished model" in refused[1].stderr


TWO_PROCESSES = {"KERAS_DISTRIBUTION_NUM_PROCESSES": "2", "KERAS_DISTRIBUTION_PROCESS_ID": "0"}


@pytest.mark.parametrize(
    ("env", "out", "message"),
    [
        ({"KERAS_DISTRIBUTION_NUM_PROCESSES": "two"}, True, "KERAS_DISTRIBUTION_NUM_PROCESSES='two': expected a"),
        (TWO_PROCESSES, False, "Several processes train one run: give each the same --out"),
        pytest.param(TWO_PROCESSES, True, "needs KERAS_BACKEND=jax: TensorFlow's MultiWorkerMirroredStrategy does "
                     "not work with Keras 3 (github.com/keras-team/keras/issues/20585)", marks=pytest.mark.skipif(
                         keras.backend.backend() != "tensorflow", reason="JAX trains over several processes")),
        pytest.param(TWO_PROCESSES, True, "Cannot join the processes that Keras' KERAS_DISTRIBUTION_* variables name",
                     marks=pytest.mark.skipif(keras.backend.backend() != "jax", reason="TensorFlow refuses first")),
    ],
)  # fmt: skip
def test_several_processes_that_cannot_train_are_refused_before_work(env, out, message, idx_dir, tmp_path):
    run_dir = tmp_path / "run"
    refused = run_train("--data-dir", idx_dir, *(["--out", run_dir] if out else []), *TINY_TRAIN_FLAGS, env=env)
    assert refused.returncode == 2 and message in refused.stderr, refused.stderr[-2000:]
    assert not run_dir.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--devices", "3"], "--devices 3: this machine has 2 ("),
        (["--devices", "2", "--batch-size", "15"], "--batch-size 15 does not split evenly over 2 devices"),
    ],
)
def test_devices_the_machine_cannot_give_are_refused_before_work(flags, message, idx_dir, tmp_path):
    run_dir = tmp_path / "run"
    refused = run_train("--data-dir", idx_dir, "--out", run_dir, *TINY_TRAIN_FLAGS, *flags, script=TWO_DEVICES)
    assert refused.returncode == 2 and message in refused.stderr
    assert not run_dir.exists()
