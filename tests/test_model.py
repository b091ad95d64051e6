"""The tiny default VLM: offline build, save/load round trip, loader errors."""

import pytest
import torch

from seethink.errors import SeethinkError
from seethink.models.load import load_model
from seethink.miniature.world.generate import generate


def test_round_trip_gives_identical_outputs(tiny_model_dir, tmp_path):
    from seethink.models.generate import encode_prompts

    model, proc = load_model(tiny_model_dir, device="cpu")
    g = next(generate("perception", "x", 1, 0))
    path = tmp_path / "a.png"
    g.image.save(path)
    rec = {**g.record, "images": [str(path)]}
    enc = encode_prompts(proc, [rec])
    assert (enc["input_ids"] == model.config.image_token_index).sum() == model.config.image_seq_length
    with torch.no_grad():
        a = model(**enc).logits
    model.save_pretrained(tmp_path / "copy")
    proc.save_pretrained(tmp_path / "copy")
    model2, proc2 = load_model(tmp_path / "copy", device="cpu")
    with torch.no_grad():
        b = model2(**encode_prompts(proc2, [rec])).logits
    assert torch.equal(a, b)


def test_tokenizer_keeps_format_tokens_whole(tiny_model_dir):
    _, proc = load_model(tiny_model_dir, device="cpu")
    tok = proc.tokenizer
    ids = tok("<think>2 + 3 = 5.</think>\\boxed{5}", add_special_tokens=False)["input_ids"]
    toks = tok.convert_ids_to_tokens(ids)
    assert toks[0] == "<think>"
    assert "</think>" in toks
    assert tok.decode(ids) == "<think>2 + 3 = 5.</think>\\boxed{5}"
    assert tok.padding_side == "left"
    # TRL decodes completions with skip_special_tokens=True: the think tags must survive it
    assert tok.decode(ids, skip_special_tokens=True) == "<think>2 + 3 = 5.</think>\\boxed{5}"


def test_shipped_base_keeps_think_tags_when_decoding():
    from seethink.miniature.base import base_path
    from seethink.models.load import load_processor

    tok = load_processor(base_path()).tokenizer
    ids = tok("<think>x</think>\\boxed{1}<|im_end|>", add_special_tokens=False)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == "<think>x</think>\\boxed{1}"


def test_generation_never_emits_the_image_token(tiny_model_dir, world_dir):
    from seethink.records.io import load_records
    from seethink.models.generate import generate as gen

    model, proc = load_model(tiny_model_dir, device="cpu")
    recs = load_records(world_dir / "perception", "test")[:4]
    outs = gen(model, proc, recs, max_new_tokens=8, do_sample=True, num_return_sequences=2)
    assert len(outs) == 4
    assert all(len(o) == 2 for o in outs)
    assert not any("<image>" in c.text for o in outs for c in o)


@pytest.mark.parametrize("make,msg", [
    (lambda p: p / "missing", "does not exist"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "not a Hugging Face model folder"),
    (lambda p: (p / "bad").mkdir() or (p / "bad" / "config.json").write_text("{oops") and p / "bad", "malformed JSON"),
])
def test_bad_model_paths_raise_one_line(tmp_path, make, msg):
    with pytest.raises(SeethinkError, match=msg) as e:
        load_model(make(tmp_path))
    assert "\n" not in str(e.value)
