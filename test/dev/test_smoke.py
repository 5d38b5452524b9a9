"""The main job's smoke run: three OSUM phases chained through --init_param, then decoding."""

import json

import pytest

from osum.dev.smoke import PHASES, run_smoke

pytestmark = pytest.mark.slow


def test_three_phases_chain_and_decode(tmp_path):
    summary = run_smoke(tmp_path, epochs=1)
    assert summary["utterances"] == 12
    for i, (name, trainable) in enumerate(PHASES):
        log = (tmp_path / f"train_{name}.log").read_text()
        assert f"trainable parts {sorted(trainable)}" in log
        if i > 0:
            prev = PHASES[i - 1][0]
            assert f"Loading pretrained params from {tmp_path}/exp/{prev}/valid.loss.ave.pth" in log
        assert len(summary["valid_loss_per_epoch"][name]) == 1
    # training moves the loss down across the phases
    losses = [summary["valid_loss_per_epoch"][n][0] for n, _ in PHASES]
    assert losses[-1] < losses[0]
    decoded = json.loads((tmp_path / "decode.json").read_text())
    assert len(decoded) == 12 and all("hyp" in d for d in decoded)
