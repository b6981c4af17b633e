"""From sources and a question to the opening transcript: the one composition of catalog,
profile and prompt that `da analyze`, `da eval` and `da report` share, so each sees exactly
what the others do."""

from pathlib import Path

from da_cli.agent import loop
from da_cli.agent.transcript import Transcript
from da_cli.data.catalog import Catalog, build_catalog
from da_cli.data.profile import by_relevance, infer_joins, profile, render


def prepare(
    sources: list[str], question: str, *, native: bool = False
) -> tuple[Catalog, Transcript]:
    """Register and profile the sources (DataError on a bad one), then open the transcript
    (`native`: DeepAnalyze's reference layout; the profile is cached, so a second call with
    it after the model has loaded costs little)."""
    catalog = build_catalog(sources)
    profiles = by_relevance(profile(catalog), question)
    transcript = loop.new_transcript(
        question,
        [Path(s) for s in catalog.sources],
        render(profiles),
        [p.name for p in profiles],
        joins=bool(infer_joins(profiles)),
        native=native,
    )
    return catalog, transcript
