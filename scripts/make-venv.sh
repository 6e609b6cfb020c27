# Sourced by scripts/bootstrap and scripts/start: create .venv with a Python that is
# new enough, or say exactly what to install. PYTHON picks the interpreter.
make_venv() {
  local python=${PYTHON:-python3}
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "tinyclaw needs Python 3.11 or newer; $python is $("$python" -V 2>&1 || echo missing)." >&2
    echo "Install one (e.g. sudo apt-get install python3.11 python3.11-venv), then rerun with PYTHON=python3.11" >&2
    return 1
  fi
  if ! "$python" -m venv .venv; then
    echo "could not create .venv: install Python's venv module (e.g. sudo apt-get install python3-venv)" >&2
    return 1
  fi
}
