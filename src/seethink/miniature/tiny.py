"""The tiny default VLM: LLaVA architecture (CLIP vision tower + projector + Llama decoder) built from configs.

Why LLaVA: it round-trips through `AutoProcessor` / `AutoModelForImageTextToText` with stock classes,
has a fixed number of image tokens ((image size / patch size)²: 64 for the base's 64×64 images and 8-pixel
patches) and plain RoPE, and was the fastest architecture per step on this CPU class. Sizes are presets; the
base uses `tiny-v2` (docs/base-model.md says why).
"""

from __future__ import annotations

import torch
from transformers import (
    CLIPImageProcessorPil,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
)

from seethink.miniature.sizes import SIZES
from seethink.miniature.tokenizer import IMAGE_TOKEN, train_tokenizer


def build_processor(image_size: int = 64, patch_size: int = 16, vocab_size: int = 768) -> LlavaProcessor:
    tokenizer = train_tokenizer(vocab_size)
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
        do_center_crop=True,
        do_resize=True,
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=tokenizer.chat_template,
        image_token=IMAGE_TOKEN,
    )


def build_model(
    processor: LlavaProcessor, size: str = "tiny", image_size: int = 64, patch_size: int = 16, seed: int = 0
) -> LlavaForConditionalGeneration:
    s = SIZES[size]
    tok = processor.tokenizer
    vision = CLIPVisionConfig(
        hidden_size=s.vision_hidden,
        intermediate_size=4 * s.vision_hidden,
        num_hidden_layers=s.vision_layers,
        num_attention_heads=max(1, s.vision_hidden // 32),
        image_size=image_size,
        patch_size=patch_size,
        projection_dim=s.vision_hidden,
    )
    text = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=s.hidden,
        intermediate_size=4 * s.hidden,
        num_hidden_layers=s.layers,
        num_attention_heads=s.heads,
        num_key_value_heads=s.heads,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=True,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tok.convert_tokens_to_ids(IMAGE_TOKEN),
        image_seq_length=(image_size // patch_size) ** 2,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.bos_token_id = tok.bos_token_id
    return model
