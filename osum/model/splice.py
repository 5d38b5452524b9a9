"""Splicing prompt, speech and target embeddings into one LLM input, batched.

Each row is the concatenation of its segments' valid parts, packed with no padding
inside the row; rows are padded on the right (training) or the left (decoding):

    [prompt] [speech BOS] [speech frames] [speech EOS] [target + end token]

Position ids follow the attention mask (cumulative sum), so a padded row sees the
same positions as the row alone.
"""

from typing import List, Sequence, Tuple

import torch

IGNORE_ID = -100


def splice(
    segments: Sequence[Tuple[torch.Tensor, torch.Tensor]],
    labels: Sequence[torch.Tensor | None],
    pad_side: str = "right",
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pack segments row by row.

    Args:
        segments: (embeddings (batch, len_i, hidden), lengths (batch,)) per segment.
        labels: per segment, token ids (batch, len_i) whose valid part is a training
            target, or None for a segment that is not predicted (label IGNORE_ID).
        pad_side: "right" or "left".

    Returns:
        embeds (batch, L, hidden), attention_mask (batch, L) long, labels (batch, L) long.
    """
    if pad_side not in ("right", "left"):
        raise ValueError(f"pad_side must be 'right' or 'left', not {pad_side!r}")
    first = segments[0][0]
    batch, hidden = first.shape[0], first.shape[-1]
    device = first.device
    lengths: List[torch.Tensor] = [lens.to(device).long() for _, lens in segments]
    total = torch.stack(lengths).sum(0)  # (batch,)
    max_len = int(total.max())
    offset = (max_len - total) if pad_side == "left" else torch.zeros_like(total)

    embeds = first.new_zeros(batch, max_len, hidden)
    out_labels = torch.full((batch, max_len), IGNORE_ID, dtype=torch.long, device=device)
    rows = torch.arange(batch, device=device)[:, None]
    for (emb, _), lens, lab in zip(segments, lengths, labels):
        width = emb.shape[1]
        pos = torch.arange(width, device=device)[None, :]
        valid = pos < lens[:, None]  # (batch, width)
        dest = (offset[:, None] + pos).masked_fill(~valid, 0)
        r = rows.expand_as(dest)
        embeds[r[valid], dest[valid]] = emb[valid].to(embeds.dtype)
        if lab is not None:
            out_labels[r[valid], dest[valid]] = lab.to(device)[valid].long()
        offset = offset + lens
    pos = torch.arange(max_len, device=device)[None, :]
    if pad_side == "left":
        mask = pos >= (max_len - total)[:, None]
    else:
        mask = pos < total[:, None]
    return embeds, mask.long(), out_labels


def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions counted over attended tokens only: (batch, L)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
