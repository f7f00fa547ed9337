"""bench/quality.py's own logic: recipe overrides and the report over seeds (the benchmark itself is not run here)."""

import pytest

from bench.quality import parse_overrides, print_report


class Args:
    budget, n = 600.0, 1000


def test_recipe_overrides_are_typed_like_the_recipe():
    overrides = parse_overrides(["augment=cutout", "ema=0", "conditional=false", "r1_gamma=1", "width=32", "lr=4e-4"])
    assert overrides == {
        **{"augment": "cutout", "ema": 0.0, "conditional": False},
        **{"r1_gamma": 1.0, "width": 32, "lr": 4e-4},
    }
    assert parse_overrides(["ema=none"]) == {"ema": None}
    with pytest.raises(SystemExit, match="unknown field 'depth'"):
        parse_overrides(["depth=3"])


def run(name, seed, fd, curve, variant=""):
    scores = {"fd": fd, "kid_x1000": 1.0, "precision": 0.5, "recall": 0.5, "class_entropy": 2.3}
    return {"name": name, "variant": variant, "seed": seed, **scores, "steps": 10, "images_per_s": 100.0,
            "curve": [(seconds, 10, value) for seconds, value in curve]}  # fmt: skip


def test_report_compares_medians_over_seeds(capsys):
    runs = [
        run("default", 0, 60.0, [(60, 300.0), (120, 150.0), (600, 62.0)]),
        run("default", 1, 80.0, [(60, 250.0), (600, 81.0)]),
        run("dcgan", 0, 600.0, [(600, 590.0)]),
        run("dcgan", 1, 200.0, [(600, 210.0)]),
        run("dcgan", 2, 100.0, [(600, 110.0)]),
        run("default", 0, 50.0, [(600, 51.0)], variant="augment=cutout"),
    ]
    floor = {"fd": 0.5, "kid_x1000": -7.0, "precision": 0.8, "recall": 0.8, "class_entropy": 2.3}
    print_report(runs, floor, Args)
    out = capsys.readouterr().out
    assert "default recipe FD / keras.io DCGAN FD (medians) = 0.350" in out  # median(60, 80) / median(600, 200, 100)
    assert "default recipe [augment=cutout] FD / keras.io DCGAN FD (medians) = 0.250" in out
    assert "median final 2000-sample FD (210.00)" in out
    assert "default recipe                    seed 0: 120 s" in out
    assert "keras.io DCGAN                    seed 0: not reached" in out
