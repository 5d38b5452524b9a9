#!/usr/bin/env bash
# parse_options.sh: Kaldi-style command-line option parsing for bash scripts.
#
# Usage (inside a script, after the option variables have their defaults):
#
#   nj=4
#   use_gpu=false
#   help_message="Usage: $0 [options] <data-dir>"
#   . utils/parse_options.sh
#   # "$@" now holds only the positional arguments.
#
# Rules:
#   --foo-bar VALUE or --foo_bar VALUE (or --foo-bar=VALUE) sets the shell
#       variable foo_bar, which must already be defined; otherwise the script
#       stops with "invalid option --foo_bar" (exit 1).
#   If the variable currently holds "true" or "false", VALUE must be "true"
#       or "false" as well.
#   --config FILE sources FILE (lines of name=value) before any other option
#       is applied, so options on the command line override the config file.
#       It may be given more than once.
#   --help or -h prints $help_message (or, if that is empty, the leading
#       comment block of the calling script) to stdout and exits 0.
#   Parsing stops at "--" (which is removed) or at the first argument that
#       does not start with "--"; the rest stay in "$@".
# Errors go to stderr as "<calling-script>: <message>" and exit with status 1.
#
# This file is meant to be sourced, so it keeps all of its own variables in
# the __po_ namespace and unsets them at the end.

__po_prog=$(basename -- "$0")

__po_die() {
  echo "$__po_prog: $*" >&2
  exit 1
}

__po_print_help() {
  if [ -n "${help_message:-}" ]; then
    printf '%s\n' "$help_message"
  elif [ -f "$0" ]; then
    # The leading comment block of the calling script, without the shebang.
    awk 'NR == 1 && /^#!/ { next }
         /^#/ { sub(/^# ?/, ""); print; next }
         { exit }' "$0"
  else
    echo "$__po_prog: no help available"
  fi
}

# First pass: apply every --config FILE among the options, in order, so that
# the explicit options given on the command line win.
__po_args=("$@")
__po_i=0
while [ "$__po_i" -lt "${#__po_args[@]}" ]; do
  __po_arg=${__po_args[$__po_i]}
  case "$__po_arg" in
    --) break ;;
    --config)
      __po_j=$((__po_i + 1))
      [ "$__po_j" -lt "${#__po_args[@]}" ] || __po_die "option --config requires a value"
      __po_cfg=${__po_args[$__po_j]}
      [ -f "$__po_cfg" ] || __po_die "config file '$__po_cfg' (given with --config) does not exist"
      # shellcheck disable=SC1090
      . "$__po_cfg" || __po_die "error sourcing config file '$__po_cfg'"
      __po_i=$((__po_i + 2)) ;;
    --config=*)
      __po_cfg=${__po_arg#--config=}
      [ -f "$__po_cfg" ] || __po_die "config file '$__po_cfg' (given with --config) does not exist"
      # shellcheck disable=SC1090
      . "$__po_cfg" || __po_die "error sourcing config file '$__po_cfg'"
      __po_i=$((__po_i + 1)) ;;
    --help|-h|--?*=*) __po_i=$((__po_i + 1)) ;;
    --?*) __po_i=$((__po_i + 2)) ;;
    *) break ;;
  esac
done

# Second pass: the options themselves.
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      __po_print_help
      exit 0 ;;
    --)
      shift
      break ;;
    --config)
      shift 2 ;;  # already applied above
    --config=*)
      shift ;;
    --?*)
      if [[ "$1" == *=* ]]; then
        __po_opt=${1%%=*}
        __po_value=${1#*=}
        shift
      else
        __po_opt=$1
        [ $# -ge 2 ] || __po_die "option $__po_opt requires a value"
        __po_value=$2
        shift 2
      fi
      __po_name=${__po_opt#--}
      __po_name=${__po_name//-/_}
      if ! [[ "$__po_name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || [ -z "${!__po_name+x}" ]; then
        __po_die "invalid option --$__po_name"
      fi
      __po_old=${!__po_name}
      if [ "$__po_old" = true ] || [ "$__po_old" = false ]; then
        if [ "$__po_value" != true ] && [ "$__po_value" != false ]; then
          __po_die "option --$__po_name expects true or false, got '$__po_value'"
        fi
      fi
      printf -v "$__po_name" '%s' "$__po_value" ;;
    *)
      break ;;
  esac
done

unset -f __po_die __po_print_help
unset __po_prog __po_args __po_i __po_j __po_arg __po_cfg __po_opt __po_value __po_name __po_old
true
