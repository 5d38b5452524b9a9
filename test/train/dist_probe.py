"""osum_train with a trainer that, after ESPnet's own run, writes each rank's parameters.

Launched by test_distributed.py through torchrun; everything else is the real task.
"""

import os
import sys
from pathlib import Path

import torch
from espnet2.train.trainer import Trainer

from osum.train.task import OSUMTask


class ProbeTrainer(Trainer):
    @classmethod
    def run(cls, model, *args, **kwargs):
        super().run(model, *args, **kwargs)
        out = Path(os.environ["OSUM_PROBE_DIR"])
        state = {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}
        torch.save(state, out / f"rank{os.environ.get('RANK', '0')}.pth")


class ProbeTask(OSUMTask):
    trainer = ProbeTrainer


if __name__ == "__main__":
    ProbeTask.main(cmd=sys.argv[1:])
