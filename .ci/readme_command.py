"""Print the shell block of the README that follows the marker `<!-- ci: NAME -->`, as one command line, so CI
runs exactly what users copy, found by its marker rather than by its position."""

import re
import sys

path, name = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
found = re.findall(rf"<!-- ci: {re.escape(name)} -->\s*```(?:bash|sh|shell)\n(.*?)```", text, flags=re.S)
if len(found) != 1:
    sys.exit(f"{path}: expected one shell block after <!-- ci: {name} -->, found {len(found)}")
print(" && ".join(line.strip() for line in found[0].strip().splitlines() if line.strip() and not line.startswith("#")))
