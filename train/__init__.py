"""Training `da`'s model with the DeepAnalyze curriculum, on TRL.

Stages (one module each): `sft` runs single-ability SFT (stage 1) and cold-start SFT on
interaction trajectories (stage 2a); `grpo` runs multi-turn GRPO (stage 2b) whose rollouts
go through `da`'s own agent loop and sandbox (`rollout`, with `policy_model` as the backend),
scored by `rewards`; `export` merges adapters and writes a quantized GGUF that
`da analyze --model` loads. `config` holds every setting, `launch` turns `--gpus N` into an
accelerate + DeepSpeed ZeRO-3 command, `run` is the entry point each process runs.

Heavy imports (torch, transformers, trl) happen inside functions, so `da --help` stays fast.
"""
