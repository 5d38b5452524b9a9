"""OSUMTask: the ESPnet task that builds, trains and loads OSUMModel.

Training is ESPnet's own (``AbsTask.main`` -> ``Trainer``): DDP and multi-node launch,
AMP, gradient accumulation, resume, n-best averaging and DeepSpeed come from ESPnet.
The YAML config mirrors constructor arguments:

    frontend: whisper          # or null with input_size: 80 for dumped log-mel
    encoder: whisper
    encoder_conf: {init: /path/to/whisper-medium, ...}
    speech_adapter: osum
    speech_adapter_conf: {...} # input/output sizes follow the encoder and the LLM
    llm_conf: {path: /path/to/Qwen2-7B-Instruct, lora: true, dtype: bfloat16}
    model_conf: {trainable: [adapter, encoder, lora]}
    preprocessor_conf: {prompt: "..."}
"""

import argparse
import difflib
import inspect
import logging
import os
import sys
from pathlib import Path
from typing import Callable, Collection, Dict, List, Tuple

import numpy as np
import torch
import yaml

# isort: off
import osum.train.espnet_shims  # noqa: F401  (first: ESPnet without its import-time downloads)

# isort: on
import espnet2.tasks.abs_task
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet2.asr.specaug.abs_specaug import AbsSpecAug
from espnet2.asr.specaug.specaug import SpecAug
from espnet2.tasks.abs_task import AbsTask
from espnet2.torch_utils.initialize import initialize
from espnet2.train.class_choices import ClassChoices
from espnet2.train.collate_fn import CommonCollateFn
from espnet2.train.trainer import Trainer
from espnet2.utils.get_default_kwargs import get_default_kwargs
from espnet2.utils.nested_dict_action import NestedDictAction
from espnet2.utils.types import int_or_none, str2bool, str_or_none
from torch import nn

from osum.asrx.preprocess import OSUMPreprocessor
from osum.data.checks import check_data_keys, check_sample_rate
from osum.model.adapter import OSUMAdapter
from osum.model.checkpoint import (
    WEIGHTS,
    CheckpointError,
    first_shape_mismatch,
    is_export,
    load_model_file,
    load_pretrained_model,
)
from osum.model.encoder import WhisperEncoder
from osum.model.espnet_model import OSUMModel
from osum.model.frontend import WhisperFrontend
from osum.model.llm import base_model, build_llm
from osum.train import espnet_io

# ESPnet's trainer writes its checkpoints atomically and reads them without unpickling,
# in every process that trains (DDP workers import this module too)
espnet_io.install()

frontend_choices = ClassChoices(
    name="frontend",
    classes=dict(whisper=WhisperFrontend),
    type_check=AbsFrontend,
    default="whisper",
    optional=True,
)
specaug_choices = ClassChoices(
    name="specaug",
    classes=dict(specaug=SpecAug),
    type_check=AbsSpecAug,
    default=None,
    optional=True,
)
encoder_choices = ClassChoices(
    name="encoder", classes=dict(whisper=WhisperEncoder), type_check=nn.Module, default="whisper"
)
# "speech_adapter" because ESPnet's AbsTask already owns --adapter (its LoRA/Houlsby option)
adapter_choices = ClassChoices(
    name="speech_adapter", classes=dict(osum=OSUMAdapter), type_check=nn.Module, default="osum"
)


# ``--init_param`` files are read without unpickling code (ESPnet's loader would run
# whatever a downloaded checkpoint holds); the syntax and semantics stay ESPnet's.
espnet2.tasks.abs_task.load_pretrained_model = load_pretrained_model


class OSUMTask(AbsTask):
    num_optimizers: int = 1
    class_choices_list = [frontend_choices, specaug_choices, encoder_choices, adapter_choices]
    trainer = Trainer

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser):
        group = parser.add_argument_group(description="Task related")
        group.add_argument(
            "--input_size",
            type=int_or_none,
            default=None,
            help="Feature dimension of dumped log-mel input (then no frontend is built)",
        )
        group.add_argument(
            "--llm_conf",
            action=NestedDictAction,
            default=dict(path=None, lora=True, dtype="float32", gradient_checkpointing=False),
            help="Arguments of osum.model.llm.build_llm (path: a local HF causal LM dir)",
        )
        group.add_argument(
            "--model_conf",
            action=NestedDictAction,
            default=get_default_kwargs(OSUMModel),
            help="Arguments of OSUMModel (trainable parts, checkpoint policy)",
        )
        group.add_argument(
            "--init",
            type=lambda x: str_or_none(x.lower()),
            default=None,
            help="Initialisation of randomly initialised parts (ESPnet's initialize())",
        )
        group.add_argument(
            "--curves_at_end",
            type=str2bool,
            default=False,
            help="Draw the training curves (output_dir/images/*.png) once, when training "
            "ends, in place of ESPnet's redrawing of them all after every epoch "
            "(--use_matplotlib), which takes about a second an epoch",
        )
        group = parser.add_argument_group(description="Preprocess related")
        group.add_argument("--use_preprocessor", type=str2bool, default=True)
        group.add_argument(
            "--preprocessor_conf",
            action=NestedDictAction,
            default=dict(),
            help="Arguments of OSUMPreprocessor (prompt_languages, task_conf, prompt, "
            "end_token); the tokenizer is llm_conf.path's",
        )
        group.add_argument(
            "--task_conf",
            type=str_or_none,
            default=None,
            help="YAML of the task registry's arguments (label sets, prompts): read into "
            "preprocessor_conf.task_conf when training starts, so config.yaml holds them",
        )
        for class_choices in cls.class_choices_list:
            class_choices.add_arguments(group)

    @classmethod
    def build_collate_fn(cls, args: argparse.Namespace, train: bool) -> Callable:
        return CommonCollateFn(float_pad_value=0.0, int_pad_value=-1)

    @classmethod
    def build_preprocess_fn(
        cls, args: argparse.Namespace, train: bool
    ) -> Callable[[str, Dict[str, np.array]], Dict[str, np.ndarray]] | None:
        if not args.use_preprocessor:
            return None
        conf = dict(args.preprocessor_conf)
        conf.setdefault("tokenizer", args.llm_conf.get("path"))
        if conf["tokenizer"] is None:
            raise ValueError("llm_conf.path (or preprocessor_conf.tokenizer) must name the LLM dir")
        conf.setdefault("ctc_text", float(args.model_conf.get("ctc_weight", 0.0)) > 0)
        return OSUMPreprocessor(train=train, **conf)

    @classmethod
    def required_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return ("speech",) if inference else ("speech", "text")

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return ("task",)  # utt2taskinfo: the task and its labels, times, answer

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> OSUMModel:
        if args.input_size is None:
            frontend = frontend_choices.get_class(args.frontend)(**args.frontend_conf)
            input_size = frontend.output_size()
        else:
            args.frontend, args.frontend_conf = None, {}
            frontend, input_size = None, args.input_size

        specaug = None
        if getattr(args, "specaug", None) is not None:
            specaug = specaug_choices.get_class(args.specaug)(**args.specaug_conf)

        encoder = encoder_choices.get_class(args.encoder)(**args.encoder_conf)
        if encoder.n_mels != input_size:
            raise ValueError(
                f"the encoder takes {encoder.n_mels} mel bins but the input has {input_size} "
                "(frontend_conf.n_mels or input_size)"
            )
        llm_conf = dict(args.llm_conf)
        if not llm_conf.get("path"):
            raise ValueError("llm_conf.path must name a local HF causal LM dir")
        llm = build_llm(**llm_conf)
        adapter_conf = dict(args.speech_adapter_conf)
        adapter_conf.update(
            input_size=encoder.output_size(), output_size=base_model(llm).config.hidden_size
        )
        adapter = adapter_choices.get_class(args.speech_adapter)(**adapter_conf)
        model = OSUMModel(
            frontend=frontend,
            specaug=specaug,
            encoder=encoder,
            adapter=adapter,
            llm=llm,
            **args.model_conf,
        )
        if args.init is not None:
            # only the parts that start from scratch; pretrained weights stay as loaded
            initialize(model.adapter, args.init)
        return model

    @classmethod
    def build_optimizers(
        cls, args: argparse.Namespace, model: nn.Module
    ) -> List[torch.optim.Optimizer]:
        """One optimizer over the trainable parameters only: frozen parts get no state."""
        from espnet2.tasks.abs_task import optim_classes

        optim_class = optim_classes.get(args.optim)
        if optim_class is None:
            raise ValueError(f"must be one of {list(optim_classes)}: {args.optim}")
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("no trainable parameters: check model_conf.trainable")
        if getattr(args, "exclude_weight_decay", False) or getattr(args, "sharded_ddp", False):
            raise ValueError("OSUMTask does not support exclude_weight_decay or sharded_ddp")
        return [optim_class(params, **args.optim_conf)]

    @classmethod
    def build_sequence_iter_factory(cls, args, iter_options, mode: str):
        # every data file must list the same utterances: say which ones differ, up front
        check_data_keys(iter_options.data_path_and_name_and_type, iter_options.shape_files)
        for path, _name, kind in iter_options.data_path_and_name_and_type:
            if kind == "sound":
                check_sample_rate(path)
        return super().build_sequence_iter_factory(args, iter_options, mode)

    @classmethod
    def build_model_from_file(
        cls, config_file, model_file=None, device: str = "cpu", base_dir=None
    ) -> Tuple[OSUMModel, argparse.Namespace]:
        """Rebuild from config.yaml (which names the base weights' dirs) and a checkpoint.

        The config may hold only what differs from the defaults (an imported or exported
        model's config does). ``base_dir``: relative model and tokenizer paths in the
        config are taken relative to it, not to the working dir; the config of an
        exported dir (``osum.bin.export_model``) is found to be one by itself. The
        checkpoint (``.pth`` or ``.safetensors``) is read without unpickling code, and
        anything but base weights missing from it is an error.
        """
        for f in (config_file, model_file):
            if f is not None and not Path(f).is_file():
                raise FileNotFoundError(f"{f} does not exist")
        with open(config_file, encoding="utf-8") as f:
            conf = yaml.safe_load(f)
        if not isinstance(conf, dict):
            raise ValueError(f"{config_file}: not a YAML mapping of options")
        argv, sys.argv = sys.argv, sys.argv[:1]  # ESPnet's defaults parse the command line:
        try:  # a decoding command's own --config (osum_inference) is no training config
            args = cls.get_default_config()
        finally:
            sys.argv = argv
        known = {*args, *AbsTask.exclude_opts(), *ESPNET_RECORDS}
        unknown = [k for k in conf if k not in known]
        if unknown:  # an older or a hand-edited config: not an error, but not unseen
            logging.warning(f"{config_file}: options no longer known, not used: {unknown}")
        args.update(conf)
        errors = conf_errors(args, config_file)
        if errors:
            raise ValueError("\n".join(errors))
        exported = is_export(Path(config_file).parent)
        if base_dir is None and exported:
            base_dir = Path(config_file).parent  # an export's config: paths relative to it
        if base_dir is not None:
            resolve_paths(args, Path(base_dir))
        args = argparse.Namespace(**args)
        model = cls.build_model(args)
        model.to(device)
        if model_file is not None:
            state = load_model_file(model_file, device)
            mismatch = first_shape_mismatch(state, model, model_file, config_file)
            if mismatch is not None:
                raise CheckpointError(mismatch)
            try:
                # an export's weights file holds all but the LLM, which is in llm/, whatever
                # trained
                own = exported and Path(model_file).name == WEIGHTS
                model.load_state_dict(state, strict=True, llm_from_dir=own)
            except RuntimeError as e:
                raise CheckpointError(f"{model_file}: {e}") from None
        return model, args


def resolve_paths(conf: Dict, base: Path) -> None:
    """Relative model and tokenizer paths of a config -> paths under ``base``."""
    for section, key in (
        ("llm_conf", "path"),
        ("encoder_conf", "init"),
        ("preprocessor_conf", "tokenizer"),
    ):
        value = (conf.get(section) or {}).get(key)
        if value and not Path(value).is_absolute():
            conf[section] = dict(conf[section], **{key: str(base / value)})


def plot_curves(output_dir: Path) -> None:
    """Draw ESPnet's training curves (images/<stat>.png) from the reporter's state in
    output_dir/checkpoint.pth: what the trainer draws after every epoch."""
    from espnet2.train.reporter import Reporter

    checkpoint = output_dir / "checkpoint.pth"
    if not checkpoint.exists():
        logging.warning(f"{checkpoint} missing: no training curves drawn")
        return
    # the reporter's history only; mmap leaves the weights on disk
    states = espnet_io.load(checkpoint, map_location="cpu", mmap=True)
    reporter = Reporter()
    reporter.load_state_dict(states["reporter"])
    reporter.matplotlib_plot(output_dir / "images")
    logging.info(f"training curves: {output_dir / 'images'}")


def read_task_conf(args: argparse.Namespace) -> None:
    """``--task_conf FILE`` -> ``preprocessor_conf.task_conf`` (the file's content)."""
    if args.task_conf is None:
        return
    with open(args.task_conf, encoding="utf-8") as f:
        conf = yaml.safe_load(f) or {}
    if not isinstance(conf, dict):
        raise SystemExit(f"osum_train: --task_conf {args.task_conf}: not a YAML mapping")
    args.preprocessor_conf = dict(args.preprocessor_conf or {}, task_conf=conf)
    args.task_conf = None


def _did_you_mean(key, known: Collection[str]) -> str:
    close = difflib.get_close_matches(str(key), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def config_file_errors(parser: argparse.ArgumentParser, config: str) -> List[str]:
    """The top-level keys of the YAML ``--config`` file that are no option of ``parser``,
    a line each naming the file (ESPnet's parser prints its whole usage before the first)."""
    try:
        with open(config, encoding="utf-8") as f:
            conf = yaml.safe_load(f)
    except FileNotFoundError:
        return [f"{config}: no such file"]
    except yaml.YAMLError as e:
        return [f"{config}: not valid YAML ({' '.join(str(e).split())})"]
    if not isinstance(conf, dict):
        return [f"{config}: not a YAML mapping of options"]
    known = {a.dest for a in parser._actions}
    return [
        f"{config}: unknown option {k!r}{_did_you_mean(k, known)}" for k in conf if k not in known
    ]


# what ESPnet's trainer writes into config.yaml besides the options
ESPNET_RECORDS = ("version", "distributed")
# the arguments of OSUMModel that build_model gives, not model_conf
MODEL_PARTS = ("frontend", "specaug", "encoder", "adapter", "llm")


def conf_errors(conf: Dict, source) -> List[str]:
    """What the ``*_conf`` sections of a training config (``conf``: its options) hold that
    the constructor each goes to does not take (a misspelled key), and component names
    that are no choice; a line each naming ``source`` (the config file) and the section."""
    from espnet2.tasks.abs_task import optim_classes, scheduler_classes
    from peft import LoraConfig

    errors, targets = [], []
    choices = [(c.name, c.classes, ()) for c in OSUMTask.class_choices_list]
    choices += [
        ("optim", optim_classes, ("params",)),
        ("scheduler", scheduler_classes, ("optimizer",)),
    ]
    for kind, classes, given in choices:
        name = conf.get(kind)
        if name is None or (kind == "frontend" and conf.get("input_size") is not None):
            continue
        if str(name).lower() not in classes:
            errors.append(
                f"{source}: {kind} {name!r} is not one of {sorted(classes)}"
                f"{_did_you_mean(name, classes)}"
            )
            continue
        targets.append((f"{kind}_conf", classes[str(name).lower()], given))
    targets += [
        ("llm_conf", build_llm, ()),
        ("model_conf", OSUMModel, MODEL_PARTS),
        ("preprocessor_conf", OSUMPreprocessor, ("train",)),
    ]
    if isinstance((conf.get("llm_conf") or {}).get("lora_conf"), dict):
        targets.append(("llm_conf.lora_conf", LoraConfig, ()))
    for section, target, given in targets:
        values = conf
        for part in section.split("."):
            values = (values or {}).get(part) or {}
        params = inspect.signature(target).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()) or not isinstance(values, dict):
            continue
        takes = [n for n in params if n not in given and n != "self"]
        for key in values:
            if key in given:
                errors.append(f"{source}: {section}: {key!r} is given by osum, not the config")
            elif key not in takes:
                errors.append(
                    f"{source}: {section}: unknown option {key!r}{_did_you_mean(key, takes)}; "
                    f"{getattr(target, '__name__', target)} takes {', '.join(takes)}"
                )
    return errors


def main(cmd: Collection[str] | None = None):
    parser = OSUMTask.get_parser()
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    config = pre.parse_known_args(cmd)[0].config
    errors = config_file_errors(parser, config) if config else []
    if not errors:
        args = parser.parse_args(cmd)
        read_task_conf(args)
        errors = conf_errors(vars(args), args.config or "the command line")
    if errors:
        raise SystemExit("\n".join(f"osum_train: {e}" for e in errors))
    if args.use_deepspeed:  # ESPnet's DeepSpeed set-up reads it, and fails where it is unset
        os.environ.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))
    if args.curves_at_end:
        args.use_matplotlib = False  # ESPnet's trainer: no curves after each epoch
    OSUMTask.main(args=args)
    # ESPnet's own launcher returns here once, after its workers; torchrun or srun start
    # one process per rank, and rank 0 draws
    rank = os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0"))
    if args.curves_at_end and not args.collect_stats and rank == "0":
        plot_curves(Path(args.output_dir))
