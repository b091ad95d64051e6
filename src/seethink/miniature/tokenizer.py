"""A byte-level BPE tokenizer trained locally on the world's text (no hub download), with a ChatML-like
chat template that accepts string content or `{"type": "image"}` / `{"type": "text"}` parts."""

from __future__ import annotations

import json

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from seethink.grading import THINK_CLOSE, THINK_OPEN, boxed
from seethink.miniature.world import DATASETS
from seethink.miniature.world.generate import WorldConfig, generate
from seethink.prompting import INSTRUCTION

IMAGE_TOKEN = "<image>"
THINK_TOKENS = (THINK_OPEN, THINK_CLOSE)
SPECIAL = ["<pad>", "<|im_start|>", "<|im_end|>", IMAGE_TOKEN, *THINK_TOKENS]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


# The tokenizer's corpus is drawn from a fixed world (the first world's word problems: 1-4 steps, start <= 40,
# operands <= 20), not from today's defaults, so that changing the world never changes the tokenizer of a base
# that `seethink pretrain` regenerates.
CORPUS_WORLD = WorldConfig(max_text_steps=4, text_max_start=40, text_max_operand=20, text_max_value=0)


def corpus(seed: int = 12345, n: int = 1500) -> list[str]:
    """Text from every dataset of the world: questions, options, reasoning, captions, the instruction."""
    texts = [INSTRUCTION, "user", "assistant", boxed("")]
    for name in DATASETS:
        for g in generate(name, "tokenizer", n, seed, CORPUS_WORLD):
            texts += [g.record["problem"], g.record["solution"]]
    return texts


def _unspecial(tok: Tokenizer, names) -> Tokenizer:
    """Keep `names` as single added tokens (same ids) but not special, as Qwen3 does for its think tags:
    decode(skip_special_tokens=True), which TRL uses on completions, would otherwise strip them and the
    format reward would never see them."""
    spec = json.loads(tok.to_str())
    for added in spec["added_tokens"]:
        if added["content"] in names:
            added["special"] = False
    return Tokenizer.from_str(json.dumps(spec))


def train_tokenizer(vocab_size: int = 768, seed: int = 12345) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus(seed), trainer=trainer)
    tok = _unspecial(tok, THINK_TOKENS)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="<|im_end|>", bos_token="<|im_start|>", padding_side="left"
    )
    fast.add_tokens([IMAGE_TOKEN], special_tokens=True)
    fast.chat_template = CHAT_TEMPLATE
    return fast
