# Where the corpora are: edit the paths here (every recipe links this file, as ESPnet's
# recipes share egs2/TEMPLATE/asr1/db.sh), or set them in the environment. A recipe's
# local/data.sh reads its corpus from here and, if it is not there, says what it expected.
# local/download.sh of a recipe downloads to the default place.
LIBRISPEECH=${LIBRISPEECH:-downloads/LibriSpeech}                 # holds SPEAKERS.TXT, test-clean/, ...
LIBRISPEECH_ALIGNMENTS=${LIBRISPEECH_ALIGNMENTS:-${LIBRISPEECH}}  # holds <subset>/ of the MFA alignments
AISHELL=${AISHELL:-downloads/aishell}                             # holds data_aishell/, resource_aishell/
WENETSPEECH=${WENETSPEECH:-downloads/WenetSpeech}                 # holds WenetSpeech.json, audio/
MELD=${MELD:-downloads/MELD.Raw}                                  # holds *_sent_emo.csv and the clip dirs
IEMOCAP=${IEMOCAP:-downloads/IEMOCAP_full_release}                # holds Session1/ ... Session5/
VOCALSOUND=${VOCALSOUND:-downloads/vocalsound}                    # holds audio_16k/, meta/
ESC50=${ESC50:-downloads/ESC-50-master}                           # holds audio/, meta/esc50.csv
COMMONVOICE=${COMMONVOICE:-downloads/cv-corpus/en}                # holds train.tsv, clips/ (or Kaggle's cv-valid-*.csv)
AIRBENCH=${AIRBENCH:-downloads/AIR-Bench-Dataset}                 # holds Chat/Chat_meta.json
EXPRESSO=${EXPRESSO:-downloads/expresso}                          # holds audio_48khz/, splits/
