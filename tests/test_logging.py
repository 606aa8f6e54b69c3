"""Run logging: the TensorBoard event file and the offline wandb run hold the logged scalars."""

from __future__ import annotations

import os

import pytest

from agents._common import RunLogger

ROWS = [{"batch": i, "loss": 1.0 / (i + 1)} for i in range(3)]


def _log(out, tensorboard, wandb_mode):
    logger = RunLogger(out, {"lr": 1e-3}, tensorboard, wandb_mode, "motornet_gym-test")
    for i, row in enumerate(ROWS):
        logger.log(row, step=i)
    logger.close()


def test_tensorboard_event_file_holds_the_logged_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _log(tmp_path, True, None)
    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    got = [(e.step, e.value) for e in acc.Scalars("loss")]
    assert got == [(i, pytest.approx(r["loss"])) for i, r in enumerate(ROWS)]
    assert (tmp_path / "progress.csv").read_text().count("\n") == 1 + len(ROWS)


def test_wandb_offline_run_holds_the_logged_scalars(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    _log(tmp_path, False, "offline")
    runs = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1, runs  # offline: nothing sent, one local run
    # The run file is wandb's protobuf record log (the SDK ships no offline reader): history records
    # carry each key and its JSON value as plain strings.
    data = runs[0].read_bytes()
    for row in ROWS:
        assert repr(row["loss"]).encode() in data, row
    assert data.count(b"loss") >= len(ROWS)
    assert not os.environ.get("WANDB_API_KEY")  # never online in tests
