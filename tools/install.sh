#!/usr/bin/env bash
# Makes the virtual environment tools/venv and installs the `asc` package into it (editable).
#
#   tools/install.sh                 # CPU build of torch 2.13.0 (the default here)
#   TORCH_SPEC="torch==2.5.1" tools/install.sh      # e.g. a CUDA build from your index
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cu124 TORCH_SPEC=torch tools/install.sh
#
# Re-running is cheap: it only installs what is missing. The recipes' path.sh activates the venv.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
venv=${VENV:-$here/venv}
python=${PYTHON:-python3}
torch_spec=${TORCH_SPEC:-torch==2.13.0}
extras=${EXTRAS:-test}

if [ ! -x "$venv/bin/python" ]; then
  echo "tools/install.sh: creating $venv with $($python --version 2>&1)"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip)
"${pip[@]}" install -q --upgrade pip setuptools wheel
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  echo "tools/install.sh: installing $torch_spec"
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "${pip[@]}" install -q "$torch_spec" --index-url "$TORCH_INDEX_URL"
  else
    "${pip[@]}" install -q "$torch_spec"
  fi
fi
echo "tools/install.sh: installing asc[$extras] (editable) from $root"
"${pip[@]}" install -q -e "$root[$extras]"
"$venv/bin/python" -c "import asc, torch; print('tools/install.sh: ok, torch', torch.__version__)"
touch "$here/.installed"
