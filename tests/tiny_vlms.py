"""Tiny random Hugging Face VLMs built from configs (offline), sharing the world's tokenizer: Qwen2-VL,
Qwen2.5-VL and Idefics3 (SmolVLM). They keep the real-model code path honest: patch-merger vision towers,
variable image-token counts, multimodal RoPE, image splitting."""

import torch

from seethink.miniature.base import base_path
from seethink.models.load import load_processor
from seethink.models.processors import image_only


def _tokenizer(extra):
    tok = load_processor(base_path()).tokenizer
    tok.add_tokens(extra, special_tokens=True)
    return tok


def _text(tok, **kw):
    return dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2,
                num_key_value_heads=1, max_position_embeddings=512, pad_token_id=tok.pad_token_id,
                eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id, **kw)


def _finish(model, tok):
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    return model


def tiny_qwen(version: str = "2"):
    """Qwen2-VL (version "2") or Qwen2.5-VL ("2.5"): 64×64 image → 8×8 patches of 8 px → 16 merged tokens."""
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor, Qwen2VLConfig,
                              Qwen2VLForConditionalGeneration, Qwen2VLImageProcessorPil, Qwen2VLProcessor)

    tok = _tokenizer(["<|vision_start|>", "<|image_pad|>", "<|vision_end|>", "<|video_pad|>"])
    template = tok.chat_template.replace("<image>", "<|vision_start|><|image_pad|><|vision_end|>")
    images = Qwen2VLImageProcessorPil(patch_size=8, merge_size=2, temporal_patch_size=2,
                                      min_pixels=64 * 64, max_pixels=64 * 64)
    head_dim = 32  # hidden 64 / 2 heads; M-RoPE sections must sum to head_dim / 2
    text = _text(tok, rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                       "mrope_section": [4, 6, head_dim // 2 - 10]})
    vision = dict(depth=1, hidden_size=64, num_heads=2, patch_size=8, spatial_merge_size=2, temporal_patch_size=2,
                  in_channels=3)
    if version == "2":
        config_cls, model_cls, proc_cls = Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor
        vision.update(embed_dim=32, mlp_ratio=2)
    else:
        config_cls, model_cls, proc_cls = Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor
        vision.update(intermediate_size=64, out_hidden_size=64, window_size=16, fullatt_block_indexes=[0])
    proc = image_only(proc_cls)(image_processor=images, tokenizer=tok, chat_template=template)
    config = config_cls(vision_config=vision, text_config=text, image_token_id=proc.image_token_id,
                        video_token_id=proc.video_token_id,
                        vision_start_token_id=tok.convert_tokens_to_ids("<|vision_start|>"))
    torch.manual_seed(0)
    return _finish(model_cls(config), tok), proc


def tiny_idefics3():
    """Idefics3 / SmolVLM: 64×64 image, no splitting, patch 16 → 16 patches → pixel shuffle 2 → 4 image tokens."""
    from transformers import (Idefics3Config, Idefics3ForConditionalGeneration, Idefics3ImageProcessorPil,
                              Idefics3Processor)

    tok = _tokenizer(["<fake_token_around_image>", "<image>", "<global-img>", "<end_of_utterance>"])
    images = Idefics3ImageProcessorPil(do_image_splitting=False, size={"longest_edge": 64},
                                       max_image_size={"longest_edge": 64})
    proc = Idefics3Processor(image_processor=images, tokenizer=tok, image_seq_len=4, chat_template=tok.chat_template)
    config = Idefics3Config(vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                               num_attention_heads=2, image_size=64, patch_size=16),
                            text_config=_text(tok), scale_factor=2, image_token_id=tok.convert_tokens_to_ids("<image>"))
    torch.manual_seed(0)
    return _finish(Idefics3ForConditionalGeneration(config), tok), proc


BUILDERS = {"qwen2-vl": lambda: tiny_qwen("2"), "qwen2.5-vl": lambda: tiny_qwen("2.5"), "idefics3": tiny_idefics3}
