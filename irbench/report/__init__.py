"""Leaderboards and regression checks: scoring many runs under recorded conditions,
comparability guards, per-query diagnostics, CSV/Markdown/HTML reports and baseline files."""
