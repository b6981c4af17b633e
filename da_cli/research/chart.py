"""da's own cell for a survey finding: `survey_fact` recomputes the fact in the same sandbox
as the model's code (so its output is evidence like any other), prints its table and a
one-line reading, and draws its chart. The code is plain and deterministic, and says in its
first line that da, not the model, wrote it."""

from da_cli.data.facts import READING
from da_cli.research.survey import Angle

MARK = "# Made by da, not by the model"
__all__ = ["MARK", "READING", "fact_cell"]


def fact_cell(angle: Angle) -> str:
    """Python source of da's cell for a survey fact: the worker's `survey_fact` recomputes
    it from the data, prints its table and reading, and draws its chart."""
    assert angle.fact is not None
    f = angle.fact
    args = [f"    {k}={v!r}," for k, v in f.params.items() if v is not None and k != "anomaly"]
    return "\n".join(
        [
            f"{MARK}: the survey's {f.kind} fact, computed by da's own query.",
            "fact = survey_fact(",
            f"    {f.kind!r},",
            *args,
            ")",
            "print(fact)",
        ]
    )
