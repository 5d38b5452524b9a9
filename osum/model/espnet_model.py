"""OSUMModel: Whisper encoder + OSUM adapter + causal LLM, as an ESPnet model.

forward() takes a batch collated by ESPnet:
    speech (batch, samples) raw 16 kHz audio, or (batch, frames, n_mels) dumped features
    prompt (batch, P) prompt token ids;   text (batch, T) target ids ending in the end token
and returns the causal-LM cross entropy over the target tokens only. With
``ctc_weight`` > 0 an auxiliary CTC head (ESPnet's :class:`~espnet2.asr.ctc.CTC`) on the
encoder output learns the transcript (``ctc_text``, added by the preprocessor), and the
loss is ``ctc_weight * ctc + (1 - ctc_weight) * lm``, both per target token.
"""

import logging
from typing import Dict, Iterable, List, Tuple

import torch
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet2.asr.specaug.abs_specaug import AbsSpecAug
from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel
from torch import nn

from osum.model.llm import base_model, decoder_body
from osum.model.splice import IGNORE_ID, position_ids, splice

logger = logging.getLogger(__name__)

TRAINABLE_PARTS = ("adapter", "encoder", "lora", "llm")


class OSUMModel(AbsESPnetModel):
    """Speech understanding LM in OSUM's layout.

    Args:
        frontend: raw audio -> log-mel, or None when features are dumped.
        specaug: optional SpecAugment on the log-mel features (training only).
        encoder: Whisper encoder.
        adapter: OSUM adapter (to the LLM's width).
        llm: HF causal LM, optionally wrapped by peft LoRA.
        trainable: which parts train: any of adapter, encoder, lora, llm.
            Everything else is frozen (no gradients, no optimizer state).
        save_base_weights: if False (default), checkpoints hold only what trains plus
            the weights that did not come from a pretrained dir; frozen pretrained
            weights (the LLM base, a frozen encoder loaded from ``encoder_conf.init``)
            are reloaded from the dirs named in config.yaml when the model is built.
        ctc_weight: weight of an auxiliary CTC loss on the encoder output (50 Hz) over
            the LLM's tokens (0: none). It makes an encoder trained from scratch learn words
            much faster (random-weight encoders); with a pretrained Whisper it is rarely
            needed, and with a large LLM vocabulary its output layer is large. The head
            trains with the encoder and is not used for decoding. 1.0: CTC only, the
            encoder alone (adapter and LLM are not run), as an encoder-pretraining phase.
    """

    def __init__(
        self,
        frontend: AbsFrontend | None,
        specaug: AbsSpecAug | None,
        encoder: nn.Module,
        adapter: nn.Module,
        llm: nn.Module,
        trainable: Iterable[str] = ("adapter",),
        save_base_weights: bool = False,
        ctc_weight: float = 0.0,
    ):
        super().__init__()
        self.frontend = frontend
        self.specaug = specaug
        self.encoder = encoder
        self.adapter = adapter
        self.llm = llm
        hidden = base_model(llm).config.hidden_size
        if adapter.output_size() != hidden:
            raise ValueError(
                f"adapter output_size {adapter.output_size()} != LLM hidden_size {hidden}"
            )
        # rows: 0 = speech BOS, 1 = speech EOS (trained with the adapter)
        self.speech_boundary = nn.Embedding(2, hidden)
        if not 0.0 <= ctc_weight <= 1.0:
            raise ValueError(f"ctc_weight must be in [0, 1], not {ctc_weight}")
        self.ctc_weight = ctc_weight
        self.ctc = None
        if ctc_weight > 0:
            from espnet2.asr.ctc import CTC

            # output 0 is the blank; token id t is output t + 1
            vocab = base_model(llm).get_output_embeddings().weight.shape[0]
            self.ctc = CTC(odim=vocab + 1, encoder_output_size=encoder.output_size())
        self.save_base_weights = save_base_weights
        # pretrained-dir weights later overwritten from a checkpoint (an encoder trained in
        # an earlier phase, say): saved from then on, even while frozen
        self._loaded_over_base: set[str] = set()
        self.set_trainable(trainable)
        if ctc_weight == 1.0 and set(self.trainable) != {"encoder"}:
            raise ValueError(
                "ctc_weight 1.0 (CTC only) runs the encoder alone: trainable must be [encoder], "
                f"not {self.trainable}"
            )

    # ------------------------------------------------------------------ freezing
    def _part_of(self, name: str) -> str:
        if name.startswith("llm."):
            return "lora" if "lora_" in name else "llm"
        if name.startswith("encoder."):
            return "encoder"
        if name.startswith("ctc."):
            return "encoder"
        return "adapter"  # adapter, speech_boundary

    def set_trainable(self, parts: Iterable[str]) -> None:
        parts = set(parts)
        unknown = parts - set(TRAINABLE_PARTS)
        if unknown:
            raise ValueError(f"unknown trainable parts {sorted(unknown)}; known: {TRAINABLE_PARTS}")
        if "lora" in parts and not any("lora_" in n for n, _ in self.llm.named_parameters()):
            raise ValueError(
                "trainable names 'lora' but the LLM has no LoRA (llm_conf.lora: false)"
            )
        self.trainable = sorted(parts)
        for name, p in self.named_parameters():
            p.requires_grad_(self._part_of(name) in parts)
        n_train = sum(p.numel() for p in self.parameters() if p.requires_grad)
        n_all = sum(p.numel() for p in self.parameters())
        logger.info(f"trainable parts {self.trainable}: {n_train:,} of {n_all:,} parameters")
        # every rank reads the same base weights from disk: DDP need not broadcast them
        self._ddp_params_and_buffers_to_ignore = self.base_weight_names()

    def _from_pretrained_dir(self, name: str) -> bool:
        if name in self._loaded_over_base:
            return False
        if name.startswith("llm."):
            return "lora_" not in name
        return name.startswith("encoder.") and getattr(self.encoder, "init", None) is not None

    def base_weight_names(self) -> List[str]:
        """State-dict keys left out of checkpoints: frozen weights that a dir provides."""
        trainable = {n for n, p in self.named_parameters() if p.requires_grad}
        return [
            k for k in super().state_dict() if self._from_pretrained_dir(k) and k not in trainable
        ]

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        state = super().state_dict(
            *args, destination=destination, prefix=prefix, keep_vars=keep_vars
        )
        if not self.save_base_weights:
            for key in self.base_weight_names():
                state.pop(prefix + key, None)
        return state

    def load_state_dict(
        self, state_dict, strict: bool = True, assign: bool = False, llm_from_dir: bool = False
    ):
        """Missing base weights are fine (they came from the dirs); anything else is not.

        ``llm_from_dir``: the LLM's own weights (not LoRA) all came from ``llm_conf.path``,
        trained or not: an exported model's layout (:mod:`osum.convert.export`)."""
        result = super().load_state_dict(state_dict, strict=False, assign=assign)
        self._loaded_over_base.update(k for k in state_dict if self._from_pretrained_dir(k))
        if strict:
            base = set(self.base_weight_names()) if not self.save_base_weights else set()
            if llm_from_dir:
                base |= {k for k in super().state_dict() if self._part_of(k) == "llm"}
            missing = [k for k in result.missing_keys if k not in base]
            if missing or result.unexpected_keys:
                raise RuntimeError(
                    f"checkpoint does not fit the model: missing {missing[:10]}"
                    f"{'...' if len(missing) > 10 else ''}, unexpected "
                    f"{result.unexpected_keys[:10]}"
                )
        return result

    def to(self, *args, **kwargs):
        """A dtype cast (ESPnet's ``--train_dtype``) leaves the LLM at ``llm_conf.dtype``."""
        device, dtype, non_blocking, _ = torch._C._nn._parse_to(*args, **kwargs)
        if dtype is None:
            return super().to(*args, **kwargs)
        for module in self.children():
            if module is self.llm:
                module.to(device=device, non_blocking=non_blocking)
            else:
                module.to(device=device, dtype=dtype, non_blocking=non_blocking)
        return self

    # ------------------------------------------------------------------ speech
    def extract_feats(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(batch, samples) audio or (batch, frames, n_mels) feats -> log-mel + lengths."""
        speech = speech[:, : int(speech_lengths.max())]
        if self.frontend is None:
            return speech, speech_lengths
        return self.frontend(speech, speech_lengths)

    def run_encoder(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Speech -> (batch, frames at 50 Hz, encoder width) encoder output and lengths."""
        feats, feats_lengths = self.extract_feats(speech, speech_lengths)
        if self.specaug is not None and self.training:
            feats, feats_lengths = self.specaug(feats, feats_lengths)
        return self.encoder(feats, feats_lengths)

    def encode_speech(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Speech -> (batch, frames at 12.5 Hz, LLM hidden) embeddings and lengths."""
        return self.adapter(*self.run_encoder(speech, speech_lengths))

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids (batch, len) -> LLM input embeddings; negative (pad) ids map to 0."""
        table = base_model(self.llm).get_input_embeddings()
        return table(ids.clamp(min=0))

    def boundary(self, batch: int, index: int, dtype: torch.dtype) -> torch.Tensor:
        return self.speech_boundary.weight[index].to(dtype).expand(batch, 1, -1)

    def build_inputs(
        self,
        speech_emb: torch.Tensor,
        speech_lengths: torch.Tensor,
        prompt: torch.Tensor,
        prompt_lengths: torch.Tensor,
        text: torch.Tensor | None = None,
        text_lengths: torch.Tensor | None = None,
        pad_side: str = "right",
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """[prompt][BOS][speech][EOS][text] -> embeds, attention_mask, labels."""
        batch = speech_emb.shape[0]
        prompt_emb = self.embed_tokens(prompt)
        dtype = prompt_emb.dtype
        one = torch.ones(batch, dtype=torch.long, device=speech_emb.device)
        segments = [
            (prompt_emb, prompt_lengths),
            (self.boundary(batch, 0, dtype), one),
            (speech_emb.to(dtype), speech_lengths),
            (self.boundary(batch, 1, dtype), one),
        ]
        labels = [None, None, None, None]
        if text is not None:
            segments.append((self.embed_tokens(text), text_lengths))
            labels.append(text)
        return splice(segments, labels, pad_side=pad_side)

    # ------------------------------------------------------------------ ESPnet API
    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        prompt: torch.Tensor,
        prompt_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        batch = speech.shape[0]
        stats: Dict[str, torch.Tensor] = {}
        enc, enc_lengths = self.run_encoder(speech, speech_lengths)
        if self.ctc_weight == 1.0:  # CTC only: the encoder alone, as a pretraining phase
            loss = self._ctc_loss(enc, enc_lengths, kwargs)
            stats["loss_ctc"] = loss.detach()
        else:
            speech_emb, speech_emb_lengths = self.adapter(enc, enc_lengths)
            loss, acc, acc_x = self._lm_loss(
                speech_emb,
                speech_emb_lengths,
                prompt,
                prompt_lengths,
                text,
                text_lengths,
                kwargs.get("text_weight"),
            )
            stats["acc"] = acc.detach()
            if kwargs.get("text_weight") is not None:  # the labels' own accuracy
                stats["acc_x"] = self._batch_stat(acc_x)
            if self.ctc is not None:
                loss_ctc = self._ctc_loss(enc, enc_lengths, kwargs)
                stats.update(loss_lm=loss.detach(), loss_ctc=loss_ctc.detach())
                loss = self.ctc_weight * loss_ctc + (1 - self.ctc_weight) * loss
        stats = {"loss": loss.detach(), **stats}  # loss first in ESPnet's logs
        loss, stats, weight = force_gatherable((loss, stats, batch), loss.device)
        return loss, stats, weight

    @staticmethod
    def _batch_stat(value: torch.Tensor | None) -> torch.Tensor | None:
        """A statistic some batches lack: None alone, but NaN under DDP, where every rank
        must all-reduce the same stats (a None on one rank hangs the others); ESPnet's
        reporter leaves non-finite values out of the epoch's average."""
        if value is not None:
            return value.detach()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.tensor(float("nan"))
        return None

    def _lm_loss(
        self,
        speech_emb,
        speech_emb_lengths,
        prompt,
        prompt_lengths,
        text,
        text_lengths,
        text_weight=None,
    ):
        """Cross entropy and accuracy of the LLM over the target tokens; with
        ``text_weight`` (batch, T) the mean over tokens is weighted by it, and the third
        value is the accuracy over the tokens weighted otherwise than their row's end
        token (the labels and answers of ``label_weight``; None when the batch has
        none)."""
        embeds, mask, labels = self.build_inputs(
            speech_emb, speech_emb_lengths, prompt, prompt_lengths, text, text_lengths
        )
        hidden = decoder_body(self.llm)(
            inputs_embeds=embeds,
            attention_mask=mask,
            position_ids=position_ids(mask),
            use_cache=False,
        ).last_hidden_state  # (batch, L, hidden)
        # position t predicts token t + 1: score only positions whose next token is a target
        target = labels[:, 1:]
        selected = target != IGNORE_ID
        logits = base_model(self.llm).get_output_embeddings()(hidden[:, :-1][selected]).float()
        target = target[selected]
        acc = (logits.argmax(-1) == target).float().mean()
        if text_weight is None:
            return nn.functional.cross_entropy(logits, target), acc, None
        # the targets appear in the labels row by row, in order: the same order as the
        # valid positions of text
        if text_weight.shape[0] != text.shape[0] or text_weight.shape[1] < text.shape[1]:
            raise ValueError(
                f"text_weight {tuple(text_weight.shape)}: need one token weight per target "
                f"token, text is {tuple(text.shape)}"
            )
        valid = torch.arange(text.shape[1], device=text.device)[None] < text_lengths[:, None]
        row_weight = text_weight[:, : text.shape[1]]
        weight = row_weight[valid].to(logits.dtype)
        loss = nn.functional.cross_entropy(logits, target, reduction="none")
        # the end token keeps its row's (task's) weight: the labels are the tokens above it
        end = row_weight.gather(1, (text_lengths - 1).clamp(min=0)[:, None]).expand_as(row_weight)
        x = (row_weight != end)[valid]
        acc_x = (logits.argmax(-1)[x] == target[x]).float().mean() if bool(x.any()) else None
        return (loss * weight).sum() / weight.sum().clamp(min=1e-8), acc, acc_x

    def _ctc_loss(self, enc, enc_lengths, batch) -> torch.Tensor:
        """CTC on the encoder output over the transcript's tokens, per token."""
        ctc_text, ctc_lengths = batch.get("ctc_text"), batch.get("ctc_text_lengths")
        if ctc_text is None:
            raise ValueError(
                "ctc_weight > 0 needs ctc_text in the batch (OSUMPreprocessor(ctc_text=True))"
            )
        # ESPnet's CTC averages over the batch: make it per token like the LM loss
        loss = self.ctc(enc, enc_lengths, ctc_text + 1, ctc_lengths)
        return loss * enc.shape[0] / ctc_lengths.sum().clamp(min=1)

    def collect_feats(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor, **kwargs
    ) -> Dict[str, torch.Tensor]:
        feats, feats_lengths = self.extract_feats(speech, speech_lengths)
        return {"feats": feats, "feats_lengths": feats_lengths}
