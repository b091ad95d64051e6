"""Tiny random Hugging Face VLMs built from configs (offline), sharing the world's tokenizer: Qwen2-VL,
Qwen2.5-VL, Qwen3-VL, Idefics3 (SmolVLM), InternVL (transformers-native), Gemma 3 and LLaVA-OneVision -- the
paper's backbone families and their neighbours. They keep the real-model code path honest: patch-merger vision
towers, deepstack features, variable image-token counts, multimodal and interleaved RoPE, image tiling and
splitting, AnyRes with an image-newline embedding, pooled soft tokens."""

import tempfile

import torch

from seethink.miniature.base import base_path
from seethink.models.load import load_processor
from seethink.models.processors import image_only


def _tokenizer(extra):
    tok = load_processor(base_path()).tokenizer
    tok.add_tokens(extra, special_tokens=True)
    return tok


def _text(tok, **kw):
    return dict(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id,
        **kw,
    )


def _with_named_tokens(tok, names: dict):
    """`tok` with model-specific special tokens (`tok.boi_token`, `tok.context_image_token_id`, …), which the
    Gemma 3 and InternVL processors read; they are set the public way, by reloading, and saved with it."""
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as d:
        tok.save_pretrained(d)
        return AutoTokenizer.from_pretrained(d, extra_special_tokens=names)


def _finish(model, tok):
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    return model


def tiny_qwen(version: str = "2"):
    """Qwen2-VL (version "2") or Qwen2.5-VL ("2.5"): 64×64 image → 8×8 patches of 8 px → 16 merged tokens."""
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessorPil,
        Qwen2VLProcessor,
    )

    tok = _tokenizer(["<|vision_start|>", "<|image_pad|>", "<|vision_end|>", "<|video_pad|>"])
    template = tok.chat_template.replace("<image>", "<|vision_start|><|image_pad|><|vision_end|>")
    images = Qwen2VLImageProcessorPil(
        patch_size=8, merge_size=2, temporal_patch_size=2, min_pixels=64 * 64, max_pixels=64 * 64
    )
    head_dim = 32  # hidden 64 / 2 heads; M-RoPE sections must sum to head_dim / 2
    text = _text(
        tok,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 6, head_dim // 2 - 10]},
    )
    vision = dict(
        depth=1, hidden_size=64, num_heads=2, patch_size=8, spatial_merge_size=2, temporal_patch_size=2, in_channels=3
    )
    if version == "2":
        config_cls, model_cls, proc_cls = Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor
        vision.update(embed_dim=32, mlp_ratio=2)
    else:
        config_cls, model_cls, proc_cls = Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor
        vision.update(intermediate_size=64, out_hidden_size=64, window_size=16, fullatt_block_indexes=[0])
    proc = image_only(proc_cls)(image_processor=images, tokenizer=tok, chat_template=template)
    config = config_cls(
        vision_config=vision,
        text_config=text,
        image_token_id=proc.image_token_id,
        video_token_id=proc.video_token_id,
        vision_start_token_id=tok.convert_tokens_to_ids("<|vision_start|>"),
    )
    torch.manual_seed(0)
    return _finish(model_cls(config), tok), proc


def tiny_idefics3():
    """Idefics3 / SmolVLM: 64×64 image, no splitting, patch 16 → 16 patches → pixel shuffle 2 → 4 image tokens."""
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessorPil,
        Idefics3Processor,
    )

    tok = _tokenizer(["<fake_token_around_image>", "<image>", "<global-img>", "<end_of_utterance>"])
    images = Idefics3ImageProcessorPil(
        do_image_splitting=False, size={"longest_edge": 64}, max_image_size={"longest_edge": 64}
    )
    proc = Idefics3Processor(image_processor=images, tokenizer=tok, image_seq_len=4, chat_template=tok.chat_template)
    config = Idefics3Config(
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=64,
            patch_size=16,
        ),
        text_config=_text(tok),
        scale_factor=2,
        image_token_id=tok.convert_tokens_to_ids("<image>"),
    )
    torch.manual_seed(0)
    return _finish(Idefics3ForConditionalGeneration(config), tok), proc


def tiny_qwen3():
    """Qwen3-VL: Qwen2.5-VL's layout plus deepstack visual features and interleaved M-RoPE; 16 merged tokens."""
    from transformers import Qwen2VLImageProcessorPil, Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor

    tok = _tokenizer(["<|vision_start|>", "<|image_pad|>", "<|vision_end|>", "<|video_pad|>"])
    template = tok.chat_template.replace("<image>", "<|vision_start|><|image_pad|><|vision_end|>")
    images = Qwen2VLImageProcessorPil(
        patch_size=8, merge_size=2, temporal_patch_size=2, min_pixels=64 * 64, max_pixels=64 * 64
    )
    proc = image_only(Qwen3VLProcessor)(image_processor=images, tokenizer=tok, chat_template=template)
    text = _text(
        tok,
        head_dim=32,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 10000.0,
            "mrope_section": [4, 6, 6],
            "mrope_interleaved": True,
        },
    )
    vision = dict(
        depth=2,
        hidden_size=64,
        intermediate_size=64,
        num_heads=2,
        patch_size=8,
        spatial_merge_size=2,
        temporal_patch_size=2,
        in_channels=3,
        out_hidden_size=64,
        num_position_embeddings=64,
        deepstack_visual_indexes=[1],
    )
    config = Qwen3VLConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=proc.image_token_id,
        video_token_id=proc.video_token_id,
        vision_start_token_id=tok.convert_tokens_to_ids("<|vision_start|>"),
    )
    torch.manual_seed(0)
    return _finish(Qwen3VLForConditionalGeneration(config), tok), proc


def _siglip(**kw):
    return dict(
        model_type="siglip_vision_model",
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
        **kw,
    )


def tiny_internvl():
    """InternVL (`InternVLForConditionalGeneration`): 32-px tiles of a 64×64 image plus a thumbnail, 4 tokens each
    after pixel shuffle."""
    from transformers import (
        GotOcr2ImageProcessorPil,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
    )

    names = {
        "start_image_token": "<img>",
        "end_image_token": "</img>",
        "context_image_token": "<IMG_CONTEXT>",
        "video_token": "<video>",
    }
    tok = _with_named_tokens(_tokenizer(list(names.values())), names)
    images = GotOcr2ImageProcessorPil(size={"height": 32, "width": 32})
    proc = image_only(InternVLProcessor)(
        image_processor=images,
        tokenizer=tok,
        image_seq_length=4,
        chat_template=tok.chat_template.replace("<image>", "<IMG_CONTEXT>"),
    )
    vision = dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=8
    )
    config = InternVLConfig(
        vision_config=vision,
        text_config=dict(_text(tok), model_type="qwen2"),
        image_token_id=tok.context_image_token_id,
        image_seq_length=4,
        downsample_ratio=0.5,
    )
    torch.manual_seed(0)
    return _finish(InternVLForConditionalGeneration(config), tok), proc


def tiny_gemma3():
    """Gemma 3: a SigLIP tower pooled to 4 soft tokens between <start_of_image> and <end_of_image>."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessorPil, Gemma3Processor

    names = {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": "<image_soft_token>"}
    tok = _with_named_tokens(_tokenizer(list(names.values())), names)
    images = Gemma3ImageProcessorPil(size={"height": 32, "width": 32}, do_pan_and_scan=False)
    proc = Gemma3Processor(
        image_processor=images,
        tokenizer=tok,
        image_seq_length=4,
        chat_template=tok.chat_template.replace("<image>", "<start_of_image>"),
    )
    config = Gemma3Config(
        vision_config=_siglip(),
        text_config=dict(_text(tok), model_type="gemma3_text", head_dim=32, sliding_window=64),
        mm_tokens_per_image=4,
        image_token_index=tok.image_token_id,
        boi_token_index=tok.boi_token_id,
        eoi_token_index=tok.eoi_token_id,
    )
    torch.manual_seed(0)
    model = Gemma3ForConditionalGeneration(config)
    # the projector's input weight starts at zero in transformers (every image looks alike);
    # a random model needs it random
    torch.nn.init.normal_(model.model.multi_modal_projector.mm_input_projection_weight, std=0.5)
    return _finish(model, tok), proc


def tiny_llava_onevision():
    """LLaVA-OneVision: AnyRes on a 32-px grid (a base view plus one tile, 16 tokens each) and an image-newline
    embedding."""
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessorPil,
        LlavaOnevisionProcessor,
    )

    tok = _tokenizer(["<image>", "<video>"])
    images = LlavaOnevisionImageProcessorPil(size={"height": 32, "width": 32}, image_grid_pinpoints=[[32, 32]])
    proc = image_only(LlavaOnevisionProcessor)(
        image_processor=images,
        tokenizer=tok,
        num_image_tokens=16,
        vision_feature_select_strategy="full",
        chat_template=tok.chat_template,
    )
    config = LlavaOnevisionConfig(
        vision_config=_siglip(),
        text_config=dict(_text(tok), model_type="qwen2"),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        video_token_index=tok.convert_tokens_to_ids("<video>"),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        image_grid_pinpoints=[[32, 32]],
    )
    torch.manual_seed(0)
    return _finish(LlavaOnevisionForConditionalGeneration(config), tok), proc


BUILDERS = {
    "qwen2-vl": lambda: tiny_qwen("2"),
    "qwen2.5-vl": lambda: tiny_qwen("2.5"),
    "qwen3-vl": tiny_qwen3,
    "idefics3": tiny_idefics3,
    "internvl": tiny_internvl,
    "gemma3": tiny_gemma3,
    "llava-onevision": tiny_llava_onevision,
}
