"""A second architecture through the same stage code: a tiny random Qwen2-VL built from a config.

Qwen2-VL differs from the LLaVA default in every place a VLM trainer can go wrong: a patch-merger vision
tower under `model.visual`, variable image-token counts (`image_grid_thw`), multimodal RoPE and
`mm_token_type_ids`. One GRPO stage with the vision tower frozen must leave every vision weight bit-identical
and move the language model.
"""

import pytest
import torch
from PIL import Image

from seethink.models.base import base_path
from seethink.models.load import load_processor
from seethink.recipe import DataSource, Stage
from seethink.train.freeze import freeze_vision, is_vision_param


def tiny_qwen2_vl():
    from transformers import ProcessorMixin, Qwen2VLConfig, Qwen2VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    from transformers.models.qwen2_vl.processing_qwen2_vl import Qwen2VLProcessor

    class NoVideoQwen2VLProcessor(Qwen2VLProcessor):
        """The stock processor builds a video processor, which needs torchvision; images are all we use."""

        attributes = ["image_processor", "tokenizer"]

        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            self.image_token, self.video_token = "<|image_pad|>", "<|video_pad|>"
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    tok = load_processor(base_path()).tokenizer  # the world's tokenizer, plus Qwen's vision tokens
    tok.add_tokens(["<|vision_start|>", "<|image_pad|>", "<|vision_end|>", "<|video_pad|>"], special_tokens=True)
    template = tok.chat_template.replace("<image>", "<|vision_start|><|image_pad|><|vision_end|>")
    images = Qwen2VLImageProcessorPil(patch_size=8, merge_size=2, temporal_patch_size=2,
                                      min_pixels=64 * 64, max_pixels=64 * 64)  # 64×64 → 8×8 patches → 16 tokens
    proc = NoVideoQwen2VLProcessor(image_processor=images, tokenizer=tok, chat_template=template)
    head_dim = 32  # hidden 64 / 2 heads; M-RoPE sections must sum to head_dim / 2
    config = Qwen2VLConfig(
        vision_config=dict(depth=1, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2, patch_size=8,
                           spatial_merge_size=2, temporal_patch_size=2, in_channels=3),
        text_config=dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                          "mrope_section": [4, 6, head_dim // 2 - 10]},
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id),
        image_token_id=proc.image_token_id, video_token_id=proc.video_token_id,
        vision_start_token_id=tok.convert_tokens_to_ids("<|vision_start|>"))
    torch.manual_seed(0)
    model = Qwen2VLForConditionalGeneration(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    return model, proc


def test_tiny_qwen2_vl_sees_the_image():
    model, proc = tiny_qwen2_vl()
    text = proc.apply_chat_template([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Hi"}]}],
                                    add_generation_prompt=True, tokenize=False)
    a = proc(images=[Image.new("RGB", (64, 64), "red")], text=[text], return_tensors="pt")
    b = proc(images=[Image.new("RGB", (64, 64), "blue")], text=[text], return_tensors="pt")
    assert int((a["input_ids"] == proc.image_token_id).sum()) == 16
    with torch.no_grad():
        assert not torch.allclose(model(**a).logits[0, -1], model(**b).logits[0, -1])


@pytest.mark.slow
def test_grpo_stage_with_frozen_vision_on_qwen2_vl(world_dir, tmp_path, monkeypatch):
    import seethink.train.stage as stage_mod

    model, proc = tiny_qwen2_vl()
    model.train()
    # A random model never earns the real reward, so every group would have zero advantage and no gradient.
    # Reward the parity of the completion's length instead: random, but with variance inside each group.
    def parity(completions, **_):
        return [float(len(c[-1]["content"] if isinstance(c, list) else c) % 2) for c in completions]

    monkeypatch.setattr(stage_mod, "REWARDS", {"accuracy": parity, "format": parity})
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    frozen = freeze_vision(model)
    assert frozen == sum(is_vision_param(n) for n in before) > 0
    stage = Stage(name="perception", data=[DataSource("perception")], steps=2, lr=1e-2, batch_size=8,
                  num_generations=4, max_completion_length=8, weight_decay=0.0)
    trainer, _ = stage_mod.build_trainer(stage, model, proc, world_dir, tmp_path / "work", seed=0)
    trainer.train()
    after = dict(model.named_parameters())
    vision = [n for n in before if is_vision_param(n)]
    language = [n for n in before if not is_vision_param(n)]
    assert any(n.startswith("model.visual.merger") for n in vision)  # the patch merger counts as vision
    assert all(torch.equal(before[n], after[n]) for n in vision)
    changed = [n for n in language if not torch.equal(before[n], after[n])]
    assert len(changed) >= len(language) // 2, f"only {len(changed)}/{len(language)} language tensors moved"
