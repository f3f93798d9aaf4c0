# SPDX-License-Identifier: Apache-2.0
"""One of a job's processes that start CUDA together (scripts/gpu-start.sh).

Imports torch and says "imported"; waits until the FIFO GO is opened and
closed by the runner (every process is released at once); then attaches to
the GPU (its context and 16 MiB) and says "attached <wall clock>"; holds
until the FIFO HOLD is opened and closed.  Usage: torch_attach.py GO HOLD
"""
import sys
import time

import torch

go, hold = sys.argv[1], sys.argv[2]
print("imported", flush=True)
with open(go) as f:
    f.read()
x = torch.empty(16 << 20, dtype=torch.uint8, device="cuda")
torch.cuda.synchronize()
print("attached %.6f" % time.time(), flush=True)
with open(hold) as f:
    f.read()
