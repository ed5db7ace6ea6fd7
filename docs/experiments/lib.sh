# Shared by the experiment scripts (sourced from the repository root, after `go build -o bin/train
# ./train`).
#
# finished DIR: DIR/result.json records a finished run. A run stopped by SIGINT or SIGTERM during
# its final evaluation also writes result.json, with "interrupted": true and only the accuracies
# measured before the signal: that run is not finished (`train -resume` evaluates it again).
finished() {
  [ -f "$1/result.json" ] && ! grep -Eq '"interrupted": *true' "$1/result.json"
}

# run DIR FLAGS...: one training run of bin/train into DIR, skipped when it finished (an
# unfinished DIR is started again from scratch); its output ends in DIR/stdout.txt and
# DIR/train.log. A run stopped by a signal (train then exits 0) stops the script, so that one
# Ctrl-C stops it and the run is not taken for finished.
run() {
  local dir=$1; shift
  if finished "$dir"; then echo "skip $dir (done)"; return; fi
  rm -rf "$dir"; echo "== $dir $*"
  bin/train -baselines=false -checkpoint-dir "$dir" "$@" >"$dir.stdout" 2>"$dir.log"
  mv "$dir.stdout" "$dir/stdout.txt"; mv "$dir.log" "$dir/train.log"
  if ! finished "$dir"; then
    echo "$dir: stopped before it finished (interrupted; $dir/train.log says where): run the script again to redo it" >&2
    exit 1
  fi
}
