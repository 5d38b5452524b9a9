#!/usr/bin/env bash
# osum.sh: the stages of every osum recipe. A recipe's run.sh names its sets and configs
# and calls this script with "$@"; every variable below is an option (--name value).
#
# | stage | what                                  | writes                                   |
# |-------|---------------------------------------|------------------------------------------|
# | 1     | data preparation (local/data.sh),     | data/<set>/ (+ task files, utt2taskinfo) |
# |       | validation, task information          |                                          |
# | 2     | dump: training sets as ${feats_type}, | dump/<type>/<set>/ (wav.scp or feats.scp,|
# |       | test sets as 16 kHz wav               | shapes, task files, skipped)             |
# | 3     | training, one sub-step per phase,     | exp/<tag>/<phase>/ (ESPnet output,       |
# |       | each initialised from the previous    | images/*.png training curves)            |
# | 4     | decoding of every test set in jobs    | exp/<tag>/decode_<set>/                  |
# | 5     | scoring, RESULTS.md                   | exp/<tag>/decode_<set>/scores/, RESULTS.md|
#
# Every finished step leaves a .done marker and is skipped when run again; training and
# decoding resume an interrupted step. Nothing passes between stages but files. A stage
# that did work records its command, commit, machine and wall time in exp/<tag>/stages/,
# and RESULTS.md begins with them (with --tiny: exp/tiny/RESULTS.md).
set -euo pipefail

log() {
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}
SECONDS=0

# General
stage=1              # first stage to run
stop_stage=5         # last stage to run
nj=4                 # jobs of stage 2
decode_nj=4          # jobs of stage 4
ngpu=0               # GPUs for training (over 1: one DDP process each) and decoding (0: CPU)
# Data
train_set=           # training set (a dir under data/)
valid_set=           # validation set
test_sets=           # sets to decode and score (space separated)
local_data_opts=     # options of local/data.sh (quotes group words: "--tasks 'ASR SGC'")
task_conf=           # YAML of osum.asrx.registry.build_registry() arguments (label sets, prompts)
tiny_models=         # a dir: stage 3 first writes tiny random Whisper/Qwen2 there (CPU configs)
# Dump
feats_type=raw       # raw (16 kHz wav) or whisper_mel (log-mel arks) for training
n_mels=80            # mel bins of whisper_mel
dump_compress=2byte  # whisper_mel arks: 2byte (half of float32's 115 MB an hour, within 2e-5), 1byte (a quarter, within ~0.01; Kaldi's --compress) or none
max_seconds=30       # longer training/dev utterances are skipped (and listed) by the dump
# Pretrained models (a recipe's pretrained.sh may set them, as ESPnet's db.sh does corpora)
encoder_init=        # Whisper for every phase: HF dir or openai-whisper .pt (encoder_conf.init)
llm_path=            # LLM for every phase: HF dir with weights and tokenizer (llm_conf.path)
# Training
train_phases="1_adapter:conf/train_1_adapter.yaml 2_encoder:conf/train_2_encoder.yaml 3_lora:conf/train_3_lora.yaml"  # "name:config ..." in order (OSUM's three phases); a config with llm_text_training: trains the previous phase's LLM on the training text (osum.bin.llm_text_train)
tiny=false           # true, or a bare --tiny: the CPU check (tiny models in models/, conf/tiny.yaml, exp/tiny, CPU; the recipe's feats_type)
train_args=          # extra options of osum.bin.osum_train for every phase
init_model=          # a model file the first phase starts from (--init_param; e.g. import_osum's model.pth)
exp_tag=osum         # experiment dir: exp/${exp_tag}
# Decoding and scoring
decode_model=valid.loss.ave.pth  # checkpoint of the last phase used for decoding
inference_config=    # YAML of osum.bin.osum_inference options (conf/decode_osum.yaml: OSUM's own decoding)
decode_args=         # options of osum.bin.osum_inference (--beam_size 4 ...); they win over inference_config's
batch_size=8         # decoding batch size
decode_threads=1     # CPU threads of each decoding job (OMP_NUM_THREADS)
score_args=          # options of osum.bin.osum_score (--normalizer osum_nopunct ...)
results_title=       # heading of RESULTS.md (default: the recipe dir)
reference=           # YAML of a paper's figures to print beside ours in RESULTS.md (osum.bin.compare_results)

help_message=$(
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  echo; echo "Options (--name value), with their defaults:"
  awk '/^# General$/ { on = 1 } /^help_message=/ { on = 0 }
       on && /^# / { printf "\n  %s\n", substr($0, 3) }
       on && /^[a-z_]+=/ {
         i = index($0, "="); name = substr($0, 1, i - 1); rest = substr($0, i + 1)
         j = index(rest, "#"); value = rest; help = ""
         if (j) { value = substr(rest, 1, j - 1); help = substr(rest, j + 2) }
         gsub(/ +$/, "", value)
         printf "    --%-18s %-24s %s\n", name, (value == "" ? "\"\"" : value), help
       }' "$0"
)
[ -f ./pretrained.sh ] && . ./pretrained.sh
# a bare --tiny is --tiny true
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = --tiny ] && { [ $# -eq 1 ] || [[ "$2" == --* ]]; }; then
    args+=(--tiny true)
  else
    args+=("$1")
  fi
  shift
done
set -- "${args[@]}"
. utils/parse_options.sh
# the command that ran the stages, for RESULTS.md: the recipe's run.sh with its options
# when it called this script, else this script's own
run_command=$(printf '%q ' "$0" "${args[@]}")
if [ -r "/proc/${PPID}/cmdline" ]; then
  mapfile -d '' -t parent < "/proc/${PPID}/cmdline"
  for i in "${!parent[@]}"; do
    if [ "${parent[$i]##*/}" = run.sh ]; then
      run_command=$(printf '%q ' "${parent[@]:$i}"); break
    fi
  done
fi
run_command=${run_command% }
if ${tiny}; then  # every recipe's CPU check: tiny random models and one short phase
  train_phases="1_all:conf/tiny.yaml" tiny_models=models exp_tag=tiny
  ngpu=0 nj=2 decode_nj=2
  encoder_init= llm_path= init_model=  # not the real models of pretrained.sh
fi
. ./path.sh
. ./cmd.sh

[ -n "${train_set}" ] && [ -n "${valid_set}" ] && [ -n "${test_sets}" ] || {
  log "error: --train_set, --valid_set and --test_sets are required"; exit 1; }
[ -n "${train_phases}" ] || { log "error: --train_phases is required"; exit 1; }
expdir=exp/${exp_tag}
task_opt=()
[ -n "${task_conf}" ] && task_opt=(--task_conf "${task_conf}")
results_md=RESULTS.md
${tiny} && results_md=${expdir}/RESULTS.md  # a check's figures are not the recipe's

# One run at a time in a recipe dir. The lock on exp/.lock is held by this script and,
# through the open file, by the processes it and its jobs start (those started by Python's
# subprocess or as fresh interpreters do not inherit it): it is free again only when the
# run has ended or died, and a second run meanwhile is refused, not mixed in.
mkdir -p exp
exec {lock_fd}>> exp/.lock
rc=0
flock -w 5 "${lock_fd}" || rc=$?  # (a few seconds for a run that is ending)
if [ "${rc}" -eq 1 ]; then
  own=$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f3)  # this run's process group
  lock=$(readlink -f exp/.lock)
  holders=$( { find /proc/[0-9]*/fd -lname "${lock}" | cut -d/ -f3 | sort -un |
    while read -r pid; do
      [ "$(sed 's/.*) //' "/proc/${pid}/stat" | cut -d' ' -f3)" = "${own}" ] && continue
      echo "${pid} ($(tr '\0' ' ' < "/proc/${pid}/cmdline" | cut -c1-80))"
    done; } 2> /dev/null | head -n 3 | paste -sd ';' -) || true
  log "error: another run is using this recipe dir (started as: $(head -n 1 exp/.lock));" \
    "its processes: ${holders:-unknown}. Wait for it to end, or stop it."
  exit 1
elif [ "${rc}" -ne 0 ]; then
  log "error: cannot lock exp/.lock (flock exit status ${rc}): is flock installed, and does" \
    "the filesystem of exp/ support locks?"
  exit 1
fi
echo "${run_command} (pid $$, $(date '+%Y-%m-%dT%H:%M:%S'))" > exp/.lock

put() {  # put FILE TEXT: the file appears whole (a temporary name, then a rename)
  local tmp
  tmp=$(dirname "$1")/.$(basename "$1").$$.tmp
  printf '%s\n' "$2" > "${tmp}"
  mv -f "${tmp}" "$1"
}

data_digest() {  # data_digest DIR: a digest of a data dir's files (names and content)
  (cd "$1" && find . -maxdepth 1 -type f ! -name '.*' | LC_ALL=C sort |
    while read -r f; do echo "${f}"; cat "${f}"; done) | sha256sum | cut -c1-16
}

record_stage() {  # a stage that did work: its command, commit, machine and wall time
  python -m osum.bin.record_stage --exp_dir "${expdir}" --stage "$1" \
    --seconds $((SECONDS - $2)) --ngpu "${ngpu}" --command "${run_command}"
}

# ---------------------------------------------------------------- stage 1
if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
  log "stage 1: data preparation"
  start=${SECONDS}
  # the marker records the options (first line) and the sets prepared with them: a set
  # asked for later is prepared then; other options are refused, not silently kept
  marker=data/.stage1.done
  setup="local_data_opts=${local_data_opts} task_conf=${task_conf}"
  [ -n "${task_conf}" ] && setup+="@$(sha256sum < "${task_conf}" | cut -c1-12)"
  if [ -s "${marker}" ] && [ "$(head -n 1 "${marker}")" != "${setup}" ]; then
    log "error: data/ was prepared with '$(head -n 1 "${marker}")', not '${setup}':" \
      "move data/ away (to keep it) and run stage 1 again"; exit 1
  fi
  todo=()
  for set in ${train_set} ${valid_set} ${test_sets}; do
    # an empty marker (an older engine's) stands for the sets already there
    if [ -f "data/${set}/utt2taskinfo" ] && [ -f "${marker}" ] &&
      { [ ! -s "${marker}" ] || grep -qxF "set=${set}" "${marker}"; }; then
      continue
    fi
    todo+=("${set}")
  done
  if [ ${#todo[@]} -gt 0 ]; then
    log "stage 1: preparing ${todo[*]}"
    # quotes in --local_data_opts group words ("--tasks 'ASR SGC'"), as the shell's do,
    # but nothing in them is run or expanded
    mapfile -t data_opts < <(xargs -r -n 1 printf '%s\n' <<< "${local_data_opts}")
    local/data.sh "${data_opts[@]}"
    for set in "${todo[@]}"; do
      [ -f "data/${set}/wav.scp" ] || { log "error: local/data.sh prepared no data/${set}" \
        "(a set asked for in --train_set, --valid_set or --test_sets; prepared:" \
        "$(cd data && find . -mindepth 2 -maxdepth 2 -name wav.scp | cut -d/ -f2 | sort | paste -sd ' ' -))"
        exit 1; }
      rm -f "data/${set}/utt2taskinfo"  # derived below, from the files local/data.sh wrote
      utils/validate_data_dir.sh --no-feats ${task_conf:+--task-conf "${task_conf}"} "data/${set}"
      python -m osum.bin.prepare_task_info "${task_opt[@]}" "data/${set}"
    done
    put "${marker}" "$(echo "${setup}"; [ -s "${marker}" ] && tail -n +2 "${marker}"
      for set in "${todo[@]}"; do echo "set=${set}"; done)"
    record_stage 1 "${start}"
  fi
  log "stage 1 done: $(for s in ${train_set} ${valid_set} ${test_sets}; do echo -n "${s}=$(wc -l < data/${s}/utt2spk) "; done)"
fi

# ---------------------------------------------------------------- stage 2
if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
  log "stage 2: dump (${feats_type} for training, raw for testing)"
  start=${SECONDS} worked=false
  for set in ${train_set} ${valid_set} ${test_sets}; do
    t=${feats_type} limit=${max_seconds}
    # test sets: 16 kHz wav of any length (decoding cuts long audio into 30 s chunks)
    case " ${test_sets} " in *" ${set} "*) t=raw limit=0 ;; esac
    out=dump/${t}/${set}
    # .done records the options and the data dir's content: a dump is not redone, nor
    # silently kept for other options; a data dir changed since (prepared again, or by
    # hand) is dumped again
    setup="max_seconds=${limit}"
    [ "${t}" = whisper_mel ] && setup="n_mels=${n_mels} compress=${dump_compress} ${setup}"
    [ -d "data/${set}" ] || { log "error: data/${set} does not exist: run stage 1 for it"; exit 1; }
    source="data=$(data_digest "data/${set}")"
    if [ -f "${out}/.done" ]; then
      before=$(cat "${out}/.done")
      [ -z "${before}" ] || [ "${before}" = "${setup} ${source}" ] && continue
      if [ "${before}" = "${setup}" ]; then  # an older engine's: options only, kept as it is
        put "${out}/.done" "${setup} ${source}"; continue
      fi
      if [ "${before% data=*}" != "${setup}" ]; then
        log "error: ${out} was dumped with '${before% data=*}', not '${setup}': move it away" \
          "(to keep it) and run stage 2 again"; exit 1
      fi
      log "stage 2: data/${set} changed since ${out} was dumped: dumping it again"
      rm -rf "${out}"
    fi
    ${train_cmd} JOB=1:"${nj}" "${out}/logs/dump.JOB.log" \
      python -m osum.bin.dump --feats_type "${t}" --n_mels "${n_mels}" --compress "${dump_compress}" \
        --max_seconds "${limit}" --nj "${nj}" --job JOB "data/${set}" "${out}"
    counts=$(python -m osum.bin.dump --merge --nj "${nj}" "data/${set}" "${out}")
    put "${out}/counts.json" "${counts}"
    log "dumped ${out}: ${counts}"
    put "${out}/.done" "${setup} ${source}"
    worked=true
  done
  if ${worked}; then record_stage 2 "${start}"; fi
fi

data_args() {  # the ESPnet data options of a dumped set for osum_train
  local mode=$1 set=$2 dir=dump/${feats_type}/$2
  if [ "${feats_type}" = raw ]; then
    echo "--${mode}_data_path_and_name_and_type ${dir}/wav.scp,speech,sound --${mode}_shape_file ${dir}/speech_shape"
  else
    echo "--${mode}_data_path_and_name_and_type ${dir}/feats.scp,speech,kaldi_ark --${mode}_shape_file ${dir}/feats_shape"
  fi
  echo "--${mode}_data_path_and_name_and_type ${dir}/text,text,text"
  echo "--${mode}_data_path_and_name_and_type ${dir}/utt2taskinfo,task,text"
}

# ---------------------------------------------------------------- stage 3
if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
  if [ -n "${tiny_models}" ] && [ ! -f "${tiny_models}/.done" ]; then
    log "stage 3: tiny random models -> ${tiny_models} (tokenizer from data/${train_set}/text)"
    python -m osum.bin.tiny_models "${task_opt[@]}" --out "${tiny_models}" "data/${train_set}" >&2
    touch "${tiny_models}/.done"
  fi
  python -m osum.bin.check_pretrained ${encoder_init:+--encoder_init "${encoder_init}"} \
    ${llm_path:+--llm_path "${llm_path}"} || exit 1
  pretrained_opts=()
  # the recipe's label sets and prompts reach training too (into preprocessor_conf)
  [ -n "${task_conf}" ] && pretrained_opts+=(--task_conf "${task_conf}")
  [ -n "${encoder_init}" ] && pretrained_opts+=(--encoder_conf "init=${encoder_init}")
  [ -n "${llm_path}" ] && pretrained_opts+=(--llm_conf "path=${llm_path}")
  init=${init_model}
  prev=
  start=${SECONDS} worked=false
  for phase in ${train_phases}; do
    name=${phase%%:*}
    config=${phase#*:}
    dir=${expdir}/${name}
    if [ -f "${dir}/.done" ]; then
      log "stage 3: ${name} already trained"
    elif grep -q '^llm_text_training:' "${config}"; then  # the LLM alone, on the text
      [ -n "${prev}" ] || { log "error: ${name} (${config}) trains the LLM of a previous" \
        "phase on text: put it after a speech phase in --train_phases"; exit 1; }
      log "stage 3: training ${name} (${config}, the LLM on data/${train_set}'s text) -> ${dir}"
      mkdir -p "${dir}"
      find "${dir}" -maxdepth 1 -name '.*.tmp' -delete  # a killed run's, never read
      ${train_cmd} "${dir}/train.log" \
        python -m osum.bin.llm_text_train --config "${config}" --init_model "${init}" \
          --train_config "${prev}/config.yaml" --data_dir "data/${train_set}" \
          --output_dir "${dir}" --model_file "${decode_model}"
      touch "${dir}/.done"
      worked=true
    else
      log "stage 3: training ${name} (${config}) -> ${dir}"
      mkdir -p "${dir}"
      # what a killed run of this phase left half written (never read; the lock says no
      # other run is writing here)
      find "${dir}" -maxdepth 1 -name '.*.tmp' -delete
      feats_opt=()
      [ "${feats_type}" = whisper_mel ] && feats_opt=(--frontend none --input_size "${n_mels}")
      init_opt=()
      [ -n "${init}" ] && init_opt=(--init_param "${init}")
      # several GPUs: ESPnet starts one DDP process per GPU (as ESPnet's asr.sh); it
      # ignores the flag for one GPU or the CPU
      [ "${ngpu}" -gt 1 ] && init_opt+=(--multiprocessing_distributed true)
      # shellcheck disable=SC2046,SC2086
      ${cuda_cmd} --gpu "${ngpu}" "${dir}/train.log" \
        python -m osum.bin.osum_train --config "${config}" --output_dir "${dir}" \
          --ngpu "${ngpu}" --resume true "${feats_opt[@]}" "${init_opt[@]}" "${pretrained_opts[@]}" \
          $(data_args train "${train_set}") $(data_args valid "${valid_set}") ${train_args}
      touch "${dir}/.done"
      worked=true
    fi
    init=${dir}/${decode_model}
    prev=${dir}
  done
  if ${worked}; then record_stage 3 "${start}"; fi
  log "stage 3 done: $(grep -h 'epoch results' "${dir}/train.log" | tail -n 1 | sed 's/.*INFO: //' | cut -c1-160)"
fi
last_phase=${train_phases##* }
last_phase=${expdir}/${last_phase%%:*}

# ---------------------------------------------------------------- stage 4
if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
  start=${SECONDS} worked=false
  for set in ${test_sets}; do
    dir=${expdir}/decode_${set}
    # .done records the setup: a finished dir is not decoded again, nor silently kept
    # for another model, another inference config (its content) or other --decode_args
    setup="${last_phase}/${decode_model} ${decode_args}"
    config_opt=()
    if [ -n "${inference_config}" ]; then
      [ -f "${inference_config}" ] || { log "error: --inference_config ${inference_config} not found"; exit 1; }
      config_opt=(--config "${inference_config}")
      setup+=" --config ${inference_config}@$(sha256sum < "${inference_config}" | cut -c1-12)"
    fi
    if [ -f "${dir}/.done" ]; then
      before=$(cat "${dir}/.done")
      if [ -z "${before}" ] || [ "${before}" = "${setup}" ]; then
        log "stage 4: ${set} already decoded"; continue
      fi
      log "error: ${dir} was decoded with '${before}', not '${setup}' (model and" \
        "--inference_config, --decode_args): move it away (to keep it) and run stage 4 again"; exit 1
    fi
    log "stage 4: decoding ${set} in ${decode_nj} jobs -> ${dir}"
    logdir=${dir}/logdir
    mkdir -p "${logdir}"
    keys=()
    for n in $(seq "${decode_nj}"); do keys+=("${logdir}/keys.${n}.scp"); done
    utils/split_scp.pl "dump/raw/${set}/wav.scp" "${keys[@]}"
    gpu_opt=0
    [ "${ngpu}" -gt 0 ] && gpu_opt=1
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=${decode_threads} ${decode_cmd} --gpu "${gpu_opt}" --num-threads "${decode_threads}" \
      JOB=1:"${decode_nj}" "${logdir}/decode.JOB.log" python -m osum.bin.osum_inference --train_config "${last_phase}/config.yaml" \
        --model_file "${last_phase}/${decode_model}" --ngpu "${gpu_opt}" --job JOB \
        --data_path_and_name_and_type "dump/raw/${set}/wav.scp,speech,sound" \
        --data_path_and_name_and_type "dump/raw/${set}/utt2taskinfo,task,text" \
        --key_file "${logdir}/keys.JOB.scp" --output_dir "${logdir}/output.JOB" \
        --batch_size "${batch_size}" "${config_opt[@]}" ${decode_args}
    python -m osum.bin.merge_decodes --out "${dir}" "${logdir}"/output.*
    put "${dir}/.done" "${setup}"
    worked=true
  done
  if ${worked}; then record_stage 4 "${start}"; fi
fi

# ---------------------------------------------------------------- stage 5
if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
  start=${SECONDS}
  for set in ${test_sets}; do
    log "stage 5: scoring ${set}"
    # shellcheck disable=SC2086
    scores=$(python -m osum.bin.osum_score --decode_dir "${expdir}/decode_${set}" \
      --data_dir "dump/raw/${set}" "${task_opt[@]}" ${score_args})
    put "${expdir}/decode_${set}/scores.json" "${scores}"
  done
  record_stage 5 "${start}"
  # the sets asked for, each row with its model file and decoding options
  python -m osum.bin.make_results --out "${results_md}" --test_sets "${test_sets}" \
    --title "${results_title:-$(basename "$(dirname "$PWD")")}" "${expdir}"
  if [ -n "${reference}" ]; then
    comparison=$(python -m osum.bin.compare_results --reference "${reference}" "${expdir}")
    put "${results_md}" "$(cat "${results_md}")"$'\n\n'"${comparison}"
  fi
  log "stage 5 done: ${results_md}"
fi
log "finished in ${SECONDS} s"
