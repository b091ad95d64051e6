"""Under torchrun (2 processes, gloo): seethink's FSDP2 pieces on the shipped base sharded by torch's own
`fully_shard`, since accelerate will not run FSDP on CPU (tests/test_engines.py). Writes `$PROBE_OUT/rank<r>.json`.

- `engines.whole_model`: each process generates on its own share with a different number of batches (rank 0 two,
  rank 1 one) and no collective inside, and gets what the unsharded model gives; afterwards the model is sharded
  again and a lockstep forward still runs.
- `engines.load_full_state_dict`: full weights from rank 0 land in every shard.
- `checkpoints.checkpoint_problem`'s FSDP check on a sharded state written by torch.distributed.checkpoint.
"""

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import get_model_state_dict
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor

from seethink.eval.evaluate import evaluate
from seethink.models.checkpoints import _dcp_problem
from seethink.models.load import load_model
from seethink.records.io import load_records
from seethink.resolve import model_path
from seethink.train.engines import load_full_state_dict, whole_model

OUT = Path(os.environ["PROBE_OUT"])
WORLD = Path(sys.argv[1])


def main() -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    model, processor = load_model(model_path("base"))
    records = load_records(WORLD / "visual_reasoning", "validation")[:12]
    mine = records[:8] if rank == 0 else records[8:]  # batches of 4: two on rank 0, one on rank 1
    plain = [r["completion"] for r in evaluate(model, processor, mine, max_new_tokens=24, batch_size=4, show=False)[0]]
    whole = {k: v.clone() for k, v in model.state_dict().items()}

    mesh = init_device_mesh("cpu", (2,))
    for block in list(model.model.language_model.layers) + list(model.model.vision_tower.encoder.layers):
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    trainer = SimpleNamespace(
        model=model,
        model_wrapped=model,
        is_deepspeed_enabled=False,
        accelerator=SimpleNamespace(
            is_fsdp2=True, num_processes=2, is_main_process=rank == 0, unwrap_model=lambda m: m, state=SimpleNamespace()
        ),
    )
    with whole_model(trainer) as m:
        sharded = [
            r["completion"] for r in evaluate(m, processor, mine, max_new_tokens=24, batch_size=4, show=False)[0]
        ]
    local = next(p for n, p in model.named_parameters() if "layers.0" in n and p.dim() == 2)
    resharded = tuple(local.to_local().shape) != tuple(local.shape)
    with torch.no_grad():  # a lockstep forward on the resharded model (collectives inside)
        model(input_ids=torch.tensor([[1, 2, 3]]))

    shifted = {k: v + 0.5 for k, v in whole.items()}
    load_full_state_dict(trainer, shifted if rank == 0 else {k: torch.zeros_like(v) for k, v in whole.items()})
    full = {k: v.full_tensor() if isinstance(v, DTensor) else v for k, v in model.state_dict().items()}  # every rank
    loaded = all(torch.equal(full[k], whole[k] + 0.5) for k in whole)  # (set_model_state_dict converts `shifted`)

    folder = OUT / "pytorch_model_fsdp_0"
    dcp.save(get_model_state_dict(model), checkpoint_id=str(folder))
    dist.barrier()
    (OUT / f"rank{rank}.json").write_text(
        json.dumps(
            {
                "plain": plain,
                "sharded": sharded,
                "resharded": resharded,
                "loaded": loaded,
                "dcp_problem": _dcp_problem(folder),
                "shards": len(list(folder.glob("*.distcp"))),
            }
        )
    )
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
