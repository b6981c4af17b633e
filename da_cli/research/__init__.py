"""Model-driven research for reports: the angles a survey looks at (`survey`), their
analyses through the shared session (`analyses`), da's own fallback charts (`chart`), the
evidence check (`evidence`), the executive summary (`summary`) and the findings that become
a report's document model (`findings`). Rendering that model is `da_cli.report`'s job."""
