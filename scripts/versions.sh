# The CLI versions tinyclaw is tested with (both change weekly; bump deliberately).
CLAUDE_CODE_VERSION=2.1.331
CODEX_VERSION=0.169.0
