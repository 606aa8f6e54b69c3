"""agents._common.parse_config: the one configuration path of every script (tyro, --config YAML)."""

from __future__ import annotations

import pytest

from agents._common import config_to_dict, parse_config
from agents.backprop import BackpropConfig
from agents.comparison.config import CompareConfig, with_preset


def _exit(capsys, cls, argv):
    with pytest.raises(SystemExit) as e:
        parse_config(cls, argv)
    return e.value.code, capsys.readouterr()


def test_flags_json_dicts_none_and_boolean_pairs():
    argv = ["--env-kwargs", '{"vision_delay": 0.05}', "--n-batches", "none", "--time-budget-s", "12.5",
            "--no-progress", "--no-compile"]  # fmt: skip
    cfg = parse_config(BackpropConfig, argv)
    assert cfg.env_kwargs == {"vision_delay": 0.05} and cfg.n_batches is None and cfg.time_budget_s == 12.5
    assert cfg.progress is False and cfg.compile is False and cfg.tensorboard is None  # unset: the default
    assert parse_config(BackpropConfig, ["--progress"]).progress is True
    assert parse_config(BackpropConfig, []) == BackpropConfig()


def test_help_comes_from_the_field_docstrings(capsys):
    code, out = _exit(capsys, CompareConfig, ["--help"])
    assert code == 0
    text = " ".join(out.out.split())
    assert "Seeds per method (0 .. n_seeds - 1)." in text and "--no-compile" in text and "--config" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--n-batches", "0"], "argument --n-batches: n_batches must be an integer >= 1 or None; got 0"),
        (["--n-bat", "3"], "error: unrecognized arguments: --n-bat"),
        (["--bogus"], "error: unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_exits_2_naming_the_argument(capsys, argv, message):
    code, out = _exit(capsys, BackpropConfig, argv)
    assert code == 2 and message in out.err


def test_a_json_list_for_a_dict_field_is_refused(capsys):
    code, out = _exit(capsys, BackpropConfig, ["--env-kwargs", "[1, 2]"])
    assert code == 2 and "--env-kwargs" in out.err and "expected a JSON object" in " ".join(out.err.split())


def test_config_file_sets_defaults_and_flags_win(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("env-kwargs: {vision_delay: 0.05}\nn_batches: 7\nlr: 1\nprogress: false\nwandb: null\n")
    cfg = parse_config(BackpropConfig, ["--config", str(path), "--n-batches", "9"])
    assert cfg.env_kwargs == {"vision_delay": 0.05} and cfg.n_batches == 9 and cfg.progress is False
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert config_to_dict(cfg)["n_batches"] == 9  # what config.json and results.json record
    assert parse_config(BackpropConfig, [f"--config={path}"]).n_batches == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("n_batchs: 3\n", "unknown field 'n_batchs'"),
        ("n_batches: '3'\n", "n_batches must be int or null; got '3'"),
        ("compile: 1\n", "compile must be bool; got 1"),
        ("- 1\n", "expected a mapping of field: value; got list"),
        ("n_batches: [1\n", "not valid YAML"),
        ("n_batches: 0\n", "n_batches must be an integer >= 1 or None; got 0"),
    ],
)
def test_a_bad_config_file_exits_2_naming_file_and_field(capsys, tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, out = _exit(capsys, BackpropConfig, ["--config", str(path)])
    assert code == 2 and f"error: argument --config: {path}: {message}" in " ".join(out.err.split())


def test_missing_config_file(capsys, tmp_path):
    code, out = _exit(capsys, BackpropConfig, ["--config", str(tmp_path / "nope.yaml")])
    assert code == 2 and "argument --config: no such file" in out.err


def test_preset_keeps_values_given_in_the_config_file(tmp_path):
    path = tmp_path / "cmp.yaml"
    path.write_text("preset: standard\nn_seeds: 5\n")
    argv = ["--config", str(path), "--backprop-batches", "3"]
    cfg = with_preset(parse_config(CompareConfig, argv), argv)
    # the file's n_seeds and the flag win over the preset (2 seeds, 6000 batches); the rest is the preset's
    assert (cfg.n_seeds, cfg.backprop_batches, cfg.rl_steps, cfg.smoke) == (5, 3, 16_000_000, False)
