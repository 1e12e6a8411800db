#!/usr/bin/env bash
# Makes the virtual environment tools/venv and installs the `asc` package into it (editable).
#
#   tools/install.sh                 # CPU build of torch 2.13.0 (the default here)
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 TORCH_SPEC="torch==2.13.0" tools/install.sh
#   CONSTRAINTS= tools/install.sh    # newest versions setup.py allows, not those CI tests
#
# torch must be >= 2.10 (tools/torch_check.py says why); a venv holding an older one gets TORCH_SPEC.
# The other packages are installed at the versions CI tests (tools/constraints.txt) unless CONSTRAINTS
# names another file or is empty. Re-running is cheap: it only installs what is missing. The recipes'
# path.sh activates the venv.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
venv=${VENV:-$here/venv}
python=${PYTHON:-python3}
torch_spec=${TORCH_SPEC:-torch==2.13.0}
extras=${EXTRAS:-test}
constraints=${CONSTRAINTS-$here/constraints.txt}

if [ ! -x "$venv/bin/python" ]; then
  echo "tools/install.sh: creating $venv with $($python --version 2>&1)"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip)
"${pip[@]}" install -q --upgrade pip setuptools wheel
if ! "$venv/bin/python" "$here/torch_check.py" >/dev/null 2>&1; then
  echo "tools/install.sh: installing $torch_spec ($("$venv/bin/python" "$here/torch_check.py" 2>&1 || true))"
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "${pip[@]}" install -q "$torch_spec" --index-url "$TORCH_INDEX_URL"
  else
    "${pip[@]}" install -q "$torch_spec"
  fi
fi
echo "tools/install.sh: installing asc[$extras] (editable) from $root"
"${pip[@]}" install -q -e "$root[$extras]" ${constraints:+-c "$constraints"}
"$venv/bin/python" "$here/torch_check.py" || { echo "tools/install.sh: give TORCH_SPEC a torch >= 2.10" >&2; exit 1; }
"$venv/bin/python" -c "import asc, torch; print('tools/install.sh: ok, torch', torch.__version__)"
touch "$here/.installed"
