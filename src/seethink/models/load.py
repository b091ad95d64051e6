"""Load any Hugging Face VLM and its processor from a local folder, offline, without torchvision."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoModelForImageTextToText, AutoProcessor, ProcessorMixin

from seethink.errors import SeethinkError
from seethink.fileio import read_json
from seethink.models.processors import load_image_only


def check_model_dir(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise SeethinkError(f"model path {p} does not exist")
    if not (p / "config.json").is_file():
        raise SeethinkError(f"model path {p} is not a Hugging Face model folder (no config.json)")
    if not isinstance(read_json(p / "config.json", "model config"), dict):
        raise SeethinkError(f"model config {p / 'config.json'}: expected a JSON object")
    return p


def load_processor(path: str | Path) -> ProcessorMixin:
    p = check_model_dir(path)
    try:
        proc, problem = AutoProcessor.from_pretrained(p, local_files_only=True), None
    except (OSError, ValueError, KeyError, AttributeError) as e:  # AttributeError: video processors sans torchvision
        proc, problem = None, str(e).splitlines()[0]
    if isinstance(proc, ProcessorMixin):
        return proc
    try:
        return load_image_only(p)
    except (SeethinkError, OSError, ValueError, TypeError):
        pass
    if problem:
        raise SeethinkError(f"cannot load a processor from {p}: {problem}")
    raise SeethinkError(f"{p} has no multimodal processor (AutoProcessor returned {type(proc).__name__})")


def load_model(path: str | Path, device: str | None = None, dtype: torch.dtype | None = None, attn: str = "auto"):
    """Return (model, processor) for a local VLM folder; weights never come from a hub."""
    p = check_model_dir(path)
    processor = load_processor(p)
    return load_weights(p, device, dtype, attn), processor


def inference_dtype(precision: str = "auto") -> torch.dtype:
    """The weights' dtype for generation (evaluation, pass@K, the KL reference): bf16 on a CUDA GPU that supports
    it (`auto`) or when asked (`bf16`), else fp32 -- on CPU always fp32, so CPU results stay bit-identical."""
    cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return torch.bfloat16 if cuda_bf16 and precision in ("auto", "bf16") else torch.float32


def attn_implementation(choice: str = "auto") -> str | None:
    """`auto`: flash-attention-2 on CUDA where `flash_attn` is installed, else sdpa there; on CPU the model's own
    default (None: unchanged). Any other value is passed to transformers as it is."""
    if choice != "auto":
        return choice
    if not torch.cuda.is_available():
        return None
    import importlib.util

    return "flash_attention_2" if importlib.util.find_spec("flash_attn") is not None else "sdpa"


def fast_matmuls() -> None:
    """TF32 for fp32 matmuls and convolutions on CUDA (Ampere and later): the fp32 parts of a bf16 run, e.g. the
    trainer's fp32 master weights' forward under autocast, at tensor-core speed. No effect on CPU."""
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


@contextlib.contextmanager
def whole_weights():
    """Load a model whole on this process, also while a DeepSpeed ZeRO-3 trainer's settings are alive: transformers
    would otherwise build it inside `deepspeed.zero.Init` (partitioned over the processes, a collective every
    process must join) -- a deadlock for a model that one process evaluates on its own. The engine partitions a
    whole model itself when it wraps it for training."""
    from transformers.integrations import deepspeed as hf_deepspeed

    ref = hf_deepspeed._hf_deepspeed_config_weak_ref
    hf_deepspeed.unset_hf_deepspeed_config()
    try:
        yield
    finally:
        hf_deepspeed._hf_deepspeed_config_weak_ref = ref


def default_device() -> torch.device:
    """This process's GPU (the one its launcher assigned), else the CPU."""
    return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")


def load_weights(path: str | Path, device: str | None = None, dtype: torch.dtype | None = None, attn: str = "auto"):
    """The VLM of a local folder (checked by `check_model_dir`), whole, in eval mode, on `device` (default: this
    process's GPU if any), in `dtype` (default: `inference_dtype()`: bf16 on CUDA, fp32 on CPU) with `attn`
    (`attn_implementation`)."""
    p = Path(path)
    fast_matmuls()
    kwargs = {"attn_implementation": a} if (a := attn_implementation(attn)) else {}
    try:
        with whole_weights():
            model, info = AutoModelForImageTextToText.from_pretrained(
                p, local_files_only=True, dtype=dtype or inference_dtype(), output_loading_info=True, **kwargs
            )
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as e:  # missing, truncated or foreign weights
        from seethink.models.checkpoints import safetensors_problem

        named = next(filter(None, (safetensors_problem(f) for f in sorted(p.glob("*.safetensors")))), None)
        raise SeethinkError(f"cannot load model weights from {p}: {named or str(e).splitlines()[0]}") from None
    refuse_mismatch(p, info)
    model.to(device or default_device())
    model.eval()
    return model


def refuse_mismatch(path: Path, info: dict) -> None:
    """Weights that do not fit the config (a config.json naming another architecture, or another size) load
    "successfully" with random tensors and fail, or train nonsense, much later: refuse them here, in one line.
    Tied weights are not missing (transformers ties them); keys a model class declares ignorable are not listed."""
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        keys = sorted(str(k[0] if isinstance(k, tuple) else k) for k in info.get(kind) or ())
        if keys:
            raise SeethinkError(
                f"model {path}: the weights do not match config.json: {len(keys)} "
                f"{kind.replace('_keys', '')} tensor(s), e.g. {keys[0]}"
            )


def image_token_id(model) -> int | None:
    cfg = model.config
    for key in ("image_token_index", "image_token_id"):
        if getattr(cfg, key, None) is not None:
            return int(getattr(cfg, key))
    return None
