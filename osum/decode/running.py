"""The rows an engine decodes together: one KV cache that rows join and leave between steps.

Each row keeps what it has alone: its KV entries are left-padded to the batch's length
(masked out), its positions are its own (from its attention mask), so a row that joins
a batch half-way through another's decoding continues exactly as it would alone.
"""

import torch
from transformers import DynamicCache


def _left_pad(x: torch.Tensor, n: int, dim: int) -> torch.Tensor:
    """``x`` with ``n`` zeros before its entries along ``dim``."""
    if n == 0:
        return x
    shape = list(x.shape)
    shape[dim] = n
    return torch.cat([x.new_zeros(shape), x], dim=dim)


class RunningBatch:
    """The KV cache, attention mask (rows, L), next positions (rows, 1) and next-token
    logits (rows, vocab) of the rows decoding now."""

    def __init__(self):
        self.cache: DynamicCache | None = None
        self.mask = self.next_pos = self.logits = None

    @property
    def rows(self) -> int:
        return 0 if self.mask is None else self.mask.shape[0]

    def add(self, logits, mask, next_pos, cache: DynamicCache):
        """Appends the rows of a prefill (``Decoder._prefill``'s outputs) after the others."""
        if self.rows == 0:
            self.logits, self.mask, self.next_pos, self.cache = logits, mask, next_pos, cache
            return
        length = max(self.mask.shape[1], mask.shape[1])
        old, new = length - self.mask.shape[1], length - mask.shape[1]
        for mine, theirs in zip(self.cache.layers, cache.layers):
            mine.keys = torch.cat([_left_pad(mine.keys, old, 2), _left_pad(theirs.keys, new, 2)])
            mine.values = torch.cat(
                [_left_pad(mine.values, old, 2), _left_pad(theirs.values, new, 2)]
            )
        self.mask = torch.cat([_left_pad(self.mask, old, 1), _left_pad(mask, new, 1)])
        self.next_pos = torch.cat([self.next_pos, next_pos])
        self.logits = torch.cat([self.logits, logits])

    def select(self, src: torch.Tensor):
        """Keeps rows ``src`` (indices, in their new order; repeated for beams), and drops
        the leading positions no row attends to any more."""
        if len(src) == 0:
            self.__init__()
            return
        if not (
            len(src) == self.rows
            and bool((src == torch.arange(self.rows, device=src.device)).all())
        ):
            self.cache.reorder_cache(src.to(self.mask.device))
            self.mask, self.next_pos = self.mask[src], self.next_pos[src]
        first = int(self.mask.any(dim=0).nonzero()[0, 0])
        if first > 0:
            self.mask = self.mask[:, first:]
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, first:], layer.values[:, :, first:]

    def step(self, decoder, tokens: torch.Tensor):
        """One decoding step: every row takes its token; sets the next logits."""
        self.logits, self.mask, self.next_pos = decoder._step(
            tokens, self.mask, self.next_pos, self.cache
        )
