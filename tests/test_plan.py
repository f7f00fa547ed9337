"""`run.plan`: what starting training on a folder does, decided in-process from the folder alone."""

import json

import h5py
import pytest

from gan_core import backend, recipe, run, saved_model, training
from gan_core.errors import GanCoreError, ProcessesError, UsageError

NOTHING_GIVEN = dict.fromkeys((*run.RUN_FLAGS, "epochs"))


def given(**flags) -> dict:
    return {**NOTHING_GIVEN, **flags}


def write_run(out, epochs=4, command="python train.py --epochs 4", **flags):
    out.mkdir(parents=True, exist_ok=True)
    saved = {**run.resolve_flags(out, given(epochs=epochs, **flags), None), "command": command}
    (out / run.RUN_JSON).write_text(json.dumps(saved))


def write_backup(out, epoch):
    backup = out / run.BACKUP_DIR
    backup.mkdir()
    (backup / run.BACKUP_METADATA).write_text(json.dumps({"epoch": epoch}))
    with h5py.File(backup / run.BACKUP_WEIGHTS, "w") as file:
        file.create_dataset("weights", data=[1.0, 2.0])


def write_finished_model(out, epochs):
    model = out / saved_model.RUN_MODEL_DIR
    model.mkdir()
    (model / saved_model.GAN_JSON).write_text(json.dumps({"latent_dim": 8, "epochs": epochs}))


def test_a_missing_or_empty_folder_is_a_new_run_with_the_default_flags(tmp_path):
    plan = run.plan(tmp_path / "missing", given(batch_size=32), command="python train.py --batch-size 32")
    assert (plan.mode, plan.initial_epoch) == ("new", 0)
    defaults = {name: run.DEFAULT_FLAGS.get(name) for name in NOTHING_GIVEN}
    assert plan.flags == {**defaults, "batch_size": 32} and plan.flags["epochs"] == run.DEFAULT_FLAGS["epochs"]
    assert plan.command == "python train.py --batch-size 32"
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / run.LOCK_FILE).touch()
    assert run.plan(tmp_path / "empty", given()).mode == "new"


def test_start_writes_the_flags_and_the_command(tmp_path):
    plan = run.plan(tmp_path / "run", given(seed=7), command="python train.py --seed 7")
    run.start(tmp_path / "run", plan)
    saved = json.loads((tmp_path / "run" / run.RUN_JSON).read_text())
    assert saved == {**plan.flags, "command": "python train.py --seed 7"} and saved["seed"] == 7


def test_a_folder_that_is_not_a_run_is_refused_with_its_path(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"is not empty and is not a train\.py run folder") as refused:
        run.plan(tmp_path, given())
    assert refused.value.value == tmp_path and isinstance(refused.value, ValueError)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_resume_needs_a_run(tmp_path):
    with pytest.raises(UsageError, match="holds no run to resume"):
        run.plan(tmp_path / "run", given(), resume=True)


def test_an_interrupted_run_resumes_from_its_backup_with_its_own_flags_and_command(tmp_path):
    write_run(tmp_path, epochs=4, batch_size=16)
    write_backup(tmp_path, 3)
    plan = run.plan(tmp_path, given(), command="python train.py --out x")
    assert (plan.mode, plan.initial_epoch) == ("resume", 3)
    assert plan.flags["batch_size"] == 16 and plan.flags["epochs"] == 4
    assert plan.command == "python train.py --epochs 4"  # the command that started the run


def test_a_run_killed_before_its_first_backup_resumes_from_epoch_0(tmp_path):
    write_run(tmp_path)
    assert (run.plan(tmp_path, given()).mode, run.plan(tmp_path, given()).initial_epoch) == ("resume", 0)


def test_a_flag_that_differs_from_the_run_is_refused_with_its_value(tmp_path):
    write_run(tmp_path, batch_size=16)
    with pytest.raises(UsageError, match="was started with --batch-size 16, not 32") as refused:
        run.plan(tmp_path, given(batch_size=32))
    assert refused.value.value == 32
    assert run.plan(tmp_path, given(batch_size=16, epochs=9)).flags["epochs"] == 9  # epochs may change


def test_a_finished_run_is_refused_unless_extended_to_more_epochs(tmp_path):
    write_run(tmp_path, epochs=2)
    write_finished_model(tmp_path, 2)
    with pytest.raises(UsageError, match=r"already holds a finished model \(2 epochs\)"):
        run.plan(tmp_path, given())
    with pytest.raises(UsageError, match="already has 2 epochs; pass --epochs larger than 2") as refused:
        run.plan(tmp_path, given(epochs=2), resume=True)
    assert refused.value.value == 2
    plan = run.plan(tmp_path, given(epochs=5), resume=True)
    assert (plan.mode, plan.initial_epoch, plan.flags["epochs"]) == ("extend", 2, 5)


def test_a_corrupt_run_json_is_refused(tmp_path):
    (tmp_path / run.RUN_JSON).write_text("{not json")
    with pytest.raises(GanCoreError, match=r"run\.json is corrupt"):
        run.plan(tmp_path, given())


def test_leftovers_of_a_killed_process_are_repaired_and_reported_even_when_the_plan_is_refused(tmp_path):
    write_run(tmp_path, epochs=2)
    write_finished_model(tmp_path, 2)
    write_backup(tmp_path, 2)  # a kill between saving model/ and retiring the backup
    (tmp_path / ".best.partial-123").mkdir()
    lines = []
    with pytest.raises(UsageError, match="already holds a finished model"):
        run.plan(tmp_path, given(), log=lines.append)
    assert not (tmp_path / run.BACKUP_DIR).exists() and not (tmp_path / ".best.partial-123").exists()
    assert lines == [
        f"Removed {tmp_path / '.best.partial-123'}, left by a process killed half-way.",
        f"Removed the backup in {tmp_path}: the finished model was saved after it.",
    ]
    assert run.plan(tmp_path, given(epochs=3), resume=True, log=lines.append).mode == "extend" and len(lines) == 2


def test_a_run_recorded_before_a_recipe_field_existed_resumes_with_the_behaviour_of_then(tmp_path):
    write_run(tmp_path)
    saved = json.loads((tmp_path / run.RUN_JSON).read_text())
    for name in recipe.BEFORE_FIELD_EXISTED:
        del saved[name]
    (tmp_path / run.RUN_JSON).write_text(json.dumps(saved))
    flags = run.plan(tmp_path, given()).flags
    assert {name: flags[name] for name in recipe.BEFORE_FIELD_EXISTED} == recipe.BEFORE_FIELD_EXISTED
    assert run.plan(tmp_path / "new", given()).flags["conditional_norm"] is recipe.Recipe().conditional_norm is True
    assert recipe.recorded_recipe({"width": 32}) == recipe.Recipe(width=32, **recipe.BEFORE_FIELD_EXISTED)


def test_a_learning_rate_given_alone_is_kept_constant_and_with_lr_final_it_decays(tmp_path):
    assert run.plan(tmp_path / "default", given()).flags["lr_final"] == recipe.Recipe().lr_final == 2e-4
    alone = run.plan(tmp_path / "alone", given(lr=1e-4)).flags
    assert (alone["lr"], alone["lr_final"]) == (1e-4, None)  # not refused for the default 2e-4 above it
    both = run.plan(tmp_path / "both", given(lr=1e-4, lr_final=5e-5)).flags
    assert (both["lr"], both["lr_final"]) == (1e-4, 5e-5)
    write_run(tmp_path / "decaying", epochs=4)
    write_backup(tmp_path / "decaying", 2)
    assert run.plan(tmp_path / "decaying", given()).flags["lr_final"] == 2e-4  # resuming keeps the run's own


def processes_sharing(sent: list, index: int) -> backend.Processes:
    """Process `index` of two, whose `share` gives what process 0 sent last (and records what it sends)."""

    def share(payload: bytes) -> bytes:
        if index == 0:
            sent.append(payload)
        return sent[-1]

    return backend.Processes(index, 2, share)


def test_process_0_plans_and_every_other_process_takes_its_plan_or_its_refusal(tmp_path):
    write_run(tmp_path / "run")
    write_backup(tmp_path / "run", 2)
    sent = []
    first = run.shared_plan(processes_sharing(sent, 0), lambda: run.plan(tmp_path / "run", given()))
    assert (first.mode, first.initial_epoch) == ("resume", 2)
    assert run.shared_plan(processes_sharing(sent, 1), lambda: pytest.fail("only process 0 plans")) == first
    with pytest.raises(UsageError, match=r"is not a train\.py run folder"):
        run.shared_plan(processes_sharing(sent, 0), lambda: run.plan(tmp_path, given()))
    with pytest.raises(UsageError, match=r"^process 0 refused the run: --out .* is not empty and is not a train"):
        run.shared_plan(processes_sharing(sent, 1), lambda: pytest.fail("only process 0 plans"))


def test_a_second_process_trains_in_a_copy_of_the_run_that_it_deletes(tmp_path):
    out = tmp_path / "run"
    write_run(out)
    write_backup(out, 2)
    (out / run.SAMPLES_DIR).mkdir()
    (out / run.LOCK_FILE).touch()
    resume = run.plan(out, given())
    with run.process_copy(out, resume, backend.ONE_PROCESS) as folder:
        assert folder == out
    with run.process_copy(out, resume, processes_sharing([], 1)) as folder:
        assert folder != out and sorted(path.name for path in folder.iterdir()) == [run.BACKUP_DIR, run.RUN_JSON]
        assert run.backup_epoch(folder) == 2  # what it resumes from is process 0's backup
        (folder / run.HISTORY_CSV).write_text("epoch\n3\n")
    assert not folder.exists() and not (out / run.HISTORY_CSV).exists()  # and it wrote nothing in the run
    with run.process_copy(tmp_path / "new", run.plan(tmp_path / "new", given()), processes_sharing([], 1)) as folder:
        assert not folder.exists() and not (tmp_path / "new").exists()  # a new run starts empty


def test_when_another_process_cannot_start_the_run_this_one_stops_before_writing(idx_dir, tmp_path):
    said = []
    others_failed = backend.Processes(0, 2, agree=lambda ok: said.append(ok) or False)
    plan = run.plan(tmp_path / "run", given(data_dir=str(idx_dir), steps_per_epoch=1, width=8, latent_dim=16))
    with pytest.raises(ProcessesError, match="Another process could not start the run"):
        training.train(tmp_path / "run", plan, training.Options(allow_download=False), processes=others_failed)
    assert said == [True] and not (tmp_path / "run").exists()

    said.clear()
    asks_too_much = training.Options(allow_download=False, devices="3")
    with pytest.raises(UsageError, match="--devices 3: these 2 processes have 1"):  # it tells the others first
        training.train(tmp_path / "run", plan, asks_too_much, processes=others_failed)
    assert said == [False] and not (tmp_path / "run").exists()
