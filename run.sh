#!/usr/bin/env bash
# One entry point for a fresh machine: sets up what is missing, then runs the job.
#
#   bash run.sh demo   # install, then score the bundled sample recordings with the embedded model
#   bash run.sh test   # install, then run the test suite (what CI runs)
#   bash run.sh samples [--only NAME]  # regenerate samples/ (installs festival, festvox-ru, ...)
#
# Set-up is idempotent: a venv in .venv with the package and its extras, and (as root, when
# missing) the Debian packages the tests use: espeak-ng and sox (fixtures), chromium (reports),
# postgresql (the tests start a throwaway PostgreSQL server of their own and stop it).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}

setup_python() {
  if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
  fi
  # Reinstall only when pyproject.toml changed since the last install.
  local stamp=.venv/.call-qa-installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "Installing call-qa and its dependencies into .venv (log: .venv/install.log) ..." >&2
    if ! { .venv/bin/python -m pip install --upgrade pip &&
           .venv/bin/python -m pip install -e ".[all]"; } >.venv/install.log 2>&1; then
      tail -n 30 .venv/install.log >&2
      echo "Error: installing call-qa failed; see .venv/install.log" >&2
      exit 1
    fi
    touch "$stamp"
  fi
}

setup_system() {
  local missing=()
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  command -v sox >/dev/null || missing+=(sox libsox-fmt-all)
  command -v chromium >/dev/null || missing+=(chromium chromium-driver)
  # initdb and pg_ctl live in /usr/lib/postgresql/<version>/bin, not on PATH
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null || missing+=(postgresql)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "Installing ${missing[*]} ..." >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      echo "Note: ${missing[*]} not installed (needs root); tests that need them are skipped." >&2
    fi
  fi
}

setup_samples() {
  # Only for regenerating samples/: text-to-speech voices (festival's Russian voice is the
  # one Whisper base understands; espeak-ng Russian is not) and sox with mp3/ogg support.
  local missing=()
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  command -v sox >/dev/null || missing+=(sox libsox-fmt-all)
  command -v text2wave >/dev/null || missing+=(festival)
  local voice
  for voice in festvox-ru festvox-us-slt-hts festvox-kdlpc16k; do
    dpkg-query -W -f='${Status}' "$voice" 2>/dev/null | grep -q "ok installed" || missing+=("$voice")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "Error: ${missing[*]} not installed; run as root or: sudo apt-get install ${missing[*]}" >&2
      exit 1
    fi
    echo "Installing ${missing[*]} ..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

cmd=${1:-demo}
shift || true
case "$cmd" in
  demo)
    setup_python
    export QA_WORKSPACE=${QA_WORKSPACE:-qa_workspace}
    # Each call gets the script its manifest row names (inbound or cold call) in its language.
    .venv/bin/qa score samples/ --manifest samples/manifest.csv \
      -s scripts_library/real_estate_inbound.en.yaml -s scripts_library/real_estate_inbound.ru.yaml \
      -s scripts_library/b2b_cold_call.en.yaml -s scripts_library/b2b_cold_call.ru.yaml \
      -r rubrics/objections.en.yaml -r rubrics/objections.ru.yaml \
      -o out/ "$@"
    ;;
  test)
    setup_python
    setup_system
    .venv/bin/python -m pytest "$@"
    ;;
  samples)
    setup_python
    setup_samples
    .venv/bin/python tools/make_samples.py "$@"
    ;;
  *)
    echo "usage: bash run.sh demo|test|samples [extra args]" >&2
    exit 2
    ;;
esac
