"""Print the N-th fenced shell command block of the README (1-based), so CI runs exactly what users copy."""

import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
blocks = re.findall(r"```(?:bash|sh|shell)\n(.*?)```", text, flags=re.S)
n = int(sys.argv[2])
if len(blocks) < n:
    sys.exit(f"{sys.argv[1]}: expected at least {n} shell blocks, found {len(blocks)}")
print(" && ".join(line.strip() for line in blocks[n - 1].strip().splitlines() if line.strip() and not line.startswith("#")))
