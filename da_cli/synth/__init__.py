"""Trajectory synthesis: training data grounded in the user's own tables (`da synth`).

DeepAnalyze's data-grounded synthesis as three roles over `da`'s real environment:

- the questioner (`questions`) proposes questions from the data profile with deterministic
  templates, each with a checklist and, for closed questions, a reference answer computed
  by SQL in the sandbox, so every label is true by construction; a teacher model may
  reword them (`paraphrase`), under checks that keep every name and value;
- the solver is `da analyze` itself (`pipeline`: the same prompt, agent loop and sandbox);
- the inspector (`inspect`) keeps a trajectory only if its checklist holds.

`items` writes stage-1 single-ability data (data understanding, verified code) from the
same questions without a model; `record` lays everything out as the chat `messages` JSON
Lines `da train` reads, dedupes, splits off a held-out set and sums up; `guard` keeps the
DABench evaluation set out of the inputs.
"""
