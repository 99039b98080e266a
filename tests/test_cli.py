"""The command line refuses bad values before anything runs: exit 2, the message names the setting (issue 13).

The table's cases run the real ``python -m ccl_lib`` process (all started at
once, so their imports overlap); many more values are checked in-process
through :func:`ccl_lib.cli.main`, which is what the console script calls.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ccl_lib.cli import main
from ccl_lib.experiments import load_experiment
from ccl_lib.experiments.named import ConfigError, check_config

REPO = Path(__file__).resolve().parents[1]


def test_bad_set_values_and_configs_in_the_real_process(tmp_path):
    bad_cfg = tmp_path / "bad.json"
    bad_cfg.write_text(json.dumps({"dataset": "digits", "defenses": {"vanilla": [{}]}, "epochs": "ten"}))
    cases = {
        # (arguments, text the message must contain)
        "epochs=1e400": (["run", "smoke-digits", "--set", "epochs=1e400"], "--set epochs=1e400: setting 'epochs'"),
        'seeds="abc"': (["run", "smoke-digits", "--set", 'seeds="abc"'], "setting 'seeds' = \"abc\""),
        "milestones=5": (["run", "smoke-digits", "--set", "milestones=5"], "setting 'milestones' = 5"),
        "epochs=abc": (["show", "smoke-digits", "--set", "epochs=abc"], "setting 'epochs' = \"abc\""),
        "config file": (["run", str(bad_cfg), "--cache", str(tmp_path / "cache")], f"{bad_cfg}: setting 'epochs'"),
    }
    env = {**os.environ, "CCL_PROGRESS": "0", "PYTHONPATH": str(REPO), "CCL_CACHE_DIR": str(tmp_path / "cache")}
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "ccl_lib", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for name, (args, _) in cases.items()
    }
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 2, (name, out, err)
        assert cases[name][1] in err, (name, err)
        assert "it must be" in err and "Traceback" not in err, (name, err)
    assert not (tmp_path / "cache").exists()  # nothing ran, nothing was written


@pytest.mark.parametrize(
    "override, allowed",
    [
        ("epochs=0", "a positive integer"),
        ("epochs=2.5", "a positive integer"),
        ("epochs=NaN", "a positive integer"),
        ("epochs=true", "a positive integer"),
        ("seeds=[0,-1]", "a non-negative integer or a non-empty list"),
        ("seeds=[]", "a non-negative integer or a non-empty list"),
        ("milestones=[3,2]", "strictly increasing"),
        ('milestones="5"', "a list of strictly increasing positive epochs"),
        ("lr=0", "a finite number > 0"),
        ("lr=1e400", "a finite number > 0"),
        ("momentum=1", "a finite number in [0, 1)"),
        ("weight_decay=-1e-4", "a finite number >= 0"),
        ("batch_size=[64]", "a positive integer"),
        ("augment=1", "true or false"),
        ('amp="yes"', "true or false"),
        ("size=0", "a positive integer (examples per split part) or null"),
        ("model=vgg", "one of"),
        ('attacks=["loss","nope"]', "attack names"),
        ("attacks=[]", "attack names"),
        ("dataset=nope", "a data set name"),
        ("defenses=5", "defenses: vanilla"),
        ("defenses.magic=[{}]", "defenses: vanilla"),
        ("defenses.ccql=7", "defenses: vanilla"),
        ("reference_epochs=-3", "a positive integer"),
        ("description=3", "a string"),
    ],
)
def test_every_setting_is_typed(override, allowed, capsys):
    assert main(["show", "smoke-digits", "--set", override]) == 2
    err = capsys.readouterr().err
    key = override.split("=")[0].split(".")[0]
    assert err.startswith(f"ccl: error: --set {override}: setting {key!r} = ") and allowed in err, err


def test_hyperparameters_and_unknown_keys_are_named(capsys):
    assert main(["show", "smoke-digits", "--set", 'defenses.ccql=[{"alpha": 7}]']) == 2
    assert "defense 'ccql': alpha must be a number in [0, 1], got 7" in capsys.readouterr().err
    assert main(["show", "smoke-digits", "--set", "epoch=5"]) == 2
    assert "unknown experiment setting 'epoch'; allowed: description" in capsys.readouterr().err
    assert main(["show", "smoke-digits", "--set", "imagefolder"]) == 2
    assert "key=value" in capsys.readouterr().err


def test_good_values_still_work():
    exp = load_experiment("smoke-digits", ["epochs=3.0", "seeds=2", "milestones=[2]", "size=null"])
    (spec, *_), n = exp.specs(), len(exp.specs())
    assert n == 2 and spec.epochs == 3 and spec.seed == 2 and spec.milestones == (2,) and spec.size is None


def test_every_shipped_config_passes_the_schema():
    from ccl_lib.experiments import list_experiments

    for name in list_experiments():
        exp = load_experiment(name)
        check_config(exp.config, name)


def test_json_config_errors_name_the_file_and_key(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"dataset": "digits", "defenses": {"vanilla": [{}]}, "seeds": "abc"}))
    with pytest.raises(ConfigError, match=rf"{cfg}: setting 'seeds' = \"abc\" is invalid; it must be"):
        load_experiment(str(cfg))
    cfg.write_text(json.dumps({"dataset": "digits"}))
    with pytest.raises(ConfigError, match="needs a 'defenses' entry"):
        load_experiment(str(cfg))
    cfg.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object, got list"):
        load_experiment(str(cfg))


def test_python_callers_may_pass_tuples_and_numpy_numbers():
    import numpy as np

    exp = load_experiment(
        "smoke-digits",
        {
            "seeds": (0, np.int64(1)),
            "epochs": np.int64(4),
            "lr": np.float32(0.05),
            "milestones": (2,),
            "defenses": {"ccql": ({"alpha": 0.3},)},
        },
    )
    specs = exp.specs()
    assert [s.seed for s in specs] == [0, 1] and {s.epochs for s in specs} == {4} and specs[0].milestones == (2,)
    assert specs[0].lr == pytest.approx(0.05) and specs[0].hparams["alpha"] == 0.3
