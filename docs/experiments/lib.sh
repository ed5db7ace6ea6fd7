# Shared by the experiment scripts (sourced from the repository root, after `go build -o bin/train
# ./train`).
#
# run DIR FLAGS...: one training run of bin/train into DIR, skipped when DIR/result.json says it
# finished (an unfinished DIR is started again from scratch); its output ends in DIR/stdout.txt and
# DIR/train.log.
run() {
  local dir=$1; shift
  if [ -f "$dir/result.json" ]; then echo "skip $dir (done)"; return; fi
  rm -rf "$dir"; echo "== $dir $*"
  bin/train -baselines=false -checkpoint-dir "$dir" "$@" >"$dir.stdout" 2>"$dir.log"
  mv "$dir.stdout" "$dir/stdout.txt"; mv "$dir.log" "$dir/train.log"
}
