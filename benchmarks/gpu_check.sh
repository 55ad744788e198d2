#!/usr/bin/env bash
# Everything a GPU changes, measured in one pass: the benchmark (fp32, and bf16 alternately), torchrun with
# NCCL in fp32 and bf16, and the notebooks' FAST and full run times. Results (JSON, Markdown tables, logs) go to $OUT (default gpu_results/).
#
#   bash benchmarks/gpu_check.sh                        # every stage
#   bash benchmarks/gpu_check.sh bench ddp              # some stages: bench ddp fast full
#   QUICK=1 bash benchmarks/gpu_check.sh bench ddp      # tiny sizes: checks that the stages run (any device)
#   NOTEBOOKS='0[2-5]*' bash benchmarks/gpu_check.sh full   # full mode for some notebooks only
#
# Run it from the repository root with the virtual environment active and GAN_LAB_DATA set. A failing stage is
# reported and the next one runs; the exit code counts the failed stages.
set -uo pipefail

out=${OUT:-gpu_results}
quick=
[ "${QUICK:-0}" = 1 ] && quick=1
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(bench ddp fast full)
mkdir -p "$out"
failed=0

stage() {  # stage NAME COMMAND...: run it, log to $out/NAME.log, time it
  local name=$1
  shift
  local start=$SECONDS
  if "$@" >"$out/$name.log" 2>&1; then
    echo "$name: ok ($((SECONDS - start)) s)"
  else
    echo "$name: FAILED ($((SECONDS - start)) s), see $out/$name.log"
    failed=$((failed + 1))
  fi
}

python -m gan_lab doctor >"$out/doctor.txt" 2>&1
nvidia-smi >"$out/nvidia-smi.txt" 2>&1 || echo "no nvidia-smi: not a CUDA machine" >"$out/nvidia-smi.txt"

bench_args=(--repeats 3)
[ -n "$quick" ] && bench_args=(--quick --models dcgan_28,wgan_gp)
steps=300
[ -n "$quick" ] && steps=4
# GPUs to use: none when GAN_LAB_DEVICE asks for another device
gpus=$(python -c "import os, torch; print(torch.cuda.device_count() if os.environ.get('GAN_LAB_DEVICE', 'cuda')
      .startswith('cuda') else 0)")

for s in "${stages[@]}"; do
  case $s in
    bench)
      # fp32 and gan_lab's trainers in bf16, alternately in one process
      stage bench python benchmarks/bench.py "${bench_args[@]}" --precision both --out "$out/bench.json" ;;
    ddp)
      # one process per GPU (NCCL); on a machine without GPUs one CPU process (gloo) checks the path
      nproc=$((gpus > 0 ? gpus : 1))
      [ "$nproc" -gt 2 ] && nproc=2
      small=()
      [ -n "$quick" ] && small=(--width 4 --z-dim 8 --batch-size 8)
      for precision in fp32 bf16; do
        stage "ddp_$precision" torchrun --standalone --nproc_per_node="$nproc" -m gan_lab train dcgan \
          --data pneumoniamnist --steps "$steps" --fid-n 0 --quiet --precision "$precision" \
          --out "$out/ddp_$precision" ${small[@]+"${small[@]}"}
      done ;;
    fast | full)
      stage "notebooks_$s" python benchmarks/bench.py --models '' --no-widget --notebooks "$s" \
        --notebook-pattern "${NOTEBOOKS:-*.ipynb}" --out "$out/notebooks_$s.json" ;;
    *)
      echo "unknown stage $s (choose from bench ddp fast full)"
      failed=$((failed + 1)) ;;
  esac
done
exit "$failed"
