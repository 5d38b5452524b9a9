"""Exporting a trained model as a self-contained directory.

    <dir>/config.yaml          the model's config, paths relative to <dir>
    <dir>/model.safetensors    encoder, adapter, speech BOS/EOS, CTC head, LoRA
    <dir>/llm/                 the LLM (LoRA merged into it, or its base weights; trained
                               or not) and its tokenizer, written with save_pretrained

``Speech2Text("<dir>")`` loads it from that path alone, whatever parts trained (the LLM's
weights are read from ``llm/`` even where ``model_conf.trainable`` names ``llm``). The
prompts and label sets travel in ``config.yaml`` (``preprocessor_conf``). The dir is written
under a temporary name and renamed when complete; a failed export (a full disk) leaves
nothing behind.
"""

import logging
import os
import shutil
from pathlib import Path
from typing import Dict

import torch
import yaml
from peft import PeftModel
from safetensors.torch import save_file

from osum.files import naming_full_disk
from osum.model.checkpoint import CONFIG, LLM_DIR, WEIGHTS
from osum.model.llm import load_tokenizer

logger = logging.getLogger(__name__)

# a training run's options that mean nothing to the exported model
_RUN_ONLY = ("_data_path_and_name_and_type", "_shape_file", "output_dir", "init_param")


def export_model(
    train_config: str, model_file: str | None, out_dir: str, merge_lora: bool = False
) -> Dict:
    """Write ``out_dir`` from a config and a checkpoint; returns what was written."""
    from osum.train.task import OSUMTask

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty")
    model, args = OSUMTask.build_model_from_file(train_config, model_file)
    model.eval()
    conf = {k: v for k, v in vars(args).items() if not any(s in k for s in _RUN_ONLY)}
    llm = model.llm
    lora = isinstance(llm, PeftModel)
    state = {k: v for k, v in torch.nn.Module.state_dict(model).items() if not k.startswith("llm.")}
    if lora and not merge_lora:  # LoRA stays a separate set of weights on the base LLM
        state.update({k: v for k, v in torch.nn.Module.state_dict(model).items() if "lora_" in k})
        base = llm.unload()
    elif lora:
        base = llm.merge_and_unload()
    else:
        base = llm
    tokenizer_dir = (args.preprocessor_conf or {}).get("tokenizer") or args.llm_conf["path"]
    tokenizer = load_tokenizer(tokenizer_dir)
    conf = _exported_config(conf, model.encoder, lora and not merge_lora)
    partial = out.with_name(out.name + ".partial")  # renamed to out when complete
    if partial.exists():
        shutil.rmtree(partial)  # a run killed before
    partial.mkdir(parents=True)
    try:
        with naming_full_disk(out):
            base.config.use_cache = True
            base.save_pretrained(partial / LLM_DIR)
            tokenizer.save_pretrained(partial / LLM_DIR)
            weights = {k: v.detach().contiguous() for k, v in state.items()}
            save_file(weights, str(partial / WEIGHTS))
            # not atomic: in <out>.partial, renamed as a whole when complete
            (partial / CONFIG).write_text(
                "# exported by osum.bin.export_model: paths are relative to this dir\n"
                + yaml.safe_dump(conf, allow_unicode=True, sort_keys=False),
                encoding="utf-8",
            )
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)  # a full disk keeps no half export
        raise
    os.replace(partial, out)  # onto nothing, or onto the empty dir out
    logger.info(f"exported {len(state)} tensors and the LLM to {out}")
    return dict(out=str(out), tensors=len(state), lora=lora and not merge_lora, merged=merge_lora)


def _exported_config(conf: Dict, enc, lora: bool) -> Dict:
    """The training config as the export's: the encoder's dims (no init), the LLM in
    ``llm/`` (``lora``: LoRA kept apart from its weights), the tokenizer the LLM dir's."""
    conf = dict(conf)
    conf["encoder_conf"] = {
        k: v for k, v in dict(conf.get("encoder_conf") or {}).items() if k != "init"
    }
    conf["encoder_conf"].update(
        n_mels=enc.n_mels,
        n_state=enc.n_state,
        n_head=enc.blocks[0].attn.n_head,
        n_layer=len(enc.blocks),
        n_ffn=enc.n_ffn,
        n_ctx=enc.n_ctx,
    )
    conf["llm_conf"] = dict(conf["llm_conf"], path=LLM_DIR, lora=lora)
    # the LLM's base weights are in llm/, not in model.safetensors
    model_conf = dict(conf.get("model_conf") or {}, save_base_weights=False)
    if not lora:  # merged: no LoRA left to train
        parts = [p for p in model_conf.get("trainable", ["adapter"]) if p != "lora"]
        model_conf["trainable"] = parts or ["adapter"]
    conf["model_conf"] = model_conf
    pre = dict(conf.get("preprocessor_conf") or {})
    pre.pop("tokenizer", None)  # the LLM dir's
    conf["preprocessor_conf"] = pre
    return conf
