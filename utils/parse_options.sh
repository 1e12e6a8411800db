# Sourced by a recipe after it sets its variables' defaults: turns `--foo-bar VALUE` into foo_bar=VALUE.
#
# Only variables the script already defined can be set (an unknown option is an error), `--config FILE`
# sources FILE first for defaults, and `--help` prints the script's $help_message. What is left after
# the options stays in "$@" (positional arguments).
__po_help() { printf '%s\n' "${help_message:-no help available}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      __po_help; exit 0 ;;
    --config)
      [ $# -ge 2 ] || { echo "$0: --config needs a file" >&2; exit 1; }
      [ -f "$2" ] || { echo "$0: config file '$2' not found" >&2; exit 1; }
      # shellcheck disable=SC1090
      . "$2"; shift 2 ;;
    --*=*)
      __po_opt=${1%%=*}; set -- "$__po_opt" "${1#*=}" "${@:2}" ;;
    --*)
      __po_name=$(printf '%s' "${1#--}" | tr '-' '_')
      if ! printf '%s' "$__po_name" | grep -qE '^[A-Za-z_][A-Za-z0-9_]*$' || [ -z "${!__po_name+x}" ]; then
        echo "$0: unknown option $1 (see $0 --help)" >&2; exit 1
      fi
      [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
      printf -v "$__po_name" '%s' "$2"
      shift 2 ;;
    *) break ;;
  esac
done
unset __po_opt __po_name
true
