# Environment of the recipe: the project's virtual environment and CPU allocator settings.
ASC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ ! -f "$ASC_ROOT/tools/venv/bin/activate" ]; then
  echo "path.sh: no virtual environment at $ASC_ROOT/tools/venv; install first: $ASC_ROOT/tools/install.sh" >&2
  return 1 2>/dev/null || exit 1
fi
. "$ASC_ROOT/tools/venv/bin/activate"
. "$ASC_ROOT/tools/cpu_env.sh"
export PYTHONUNBUFFERED=1 LC_ALL=C
