"""The ``tinyclaw.toml`` that ``tinyclaw init`` writes: a working home with one
actor, every platform off, and comments that point to the manual."""

DEFAULT_CONFIG = """\
# tinyclaw configuration. No secrets here: tokens come from the environment or .env.
# Every key is described in docs/configuration.md.
# Settings of your own can go in tinyclaw.local.toml beside this file: it is laid over
# this one, table by table (see docs/install.md), and git ignores it.

[worker]
concurrency = 4            # actors running at the same time
# default_actor = "assistant"

[runners.claude]
# command = "/path/to/claude"       # default: `claude` on PATH (or .tools/node_modules/.bin)
# env = { CLAUDE_CODE_USE_BEDROCK = "1" }
pass_env = ["ANTHROPIC_API_KEY"]    # copied from your environment into the CLI's

[runners.codex]
# command = "/path/to/codex"
pass_env = ["OPENAI_API_KEY"]

[actors.assistant]
runner = "claude"
description = "General assistant"
persona = "You are a helpful assistant that answers through a chat app. Be concise."
timeout = 600
permission_mode = "acceptEdits"
# models = ["sonnet", "opus"]      # what a chat may pick with /model (docs/costs.md)
# max_usd_per_day = 5              # spend limits of this actor; also max_usd_per_month

[channels.telegram]
enabled = false
token_env = "TELEGRAM_BOT_TOKEN"
allow_from = []            # user ids let in without pairing; empty: only paired users

[channels.discord]
enabled = false
token_env = "DISCORD_BOT_TOKEN"
allow_from = []
# allow_groups = []        # channel ids (not guild ids; their threads too) where a mention is answered

[channels.whatsapp]
enabled = false
token_env = "WHATSAPP_TOKEN"
verify_token_env = "WHATSAPP_VERIFY_TOKEN"
app_secret_env = "WHATSAPP_APP_SECRET"
# phone_id = "1234567890"
allow_from = []

# Voice notes become text (docs/voice.md). Uncomment to turn it on; any
# OpenAI-compatible /v1/audio/transcriptions endpoint works (OpenAI, Groq, a local
# whisper server).
# [transcription]
# base_url = "https://api.openai.com/v1"
# model = "whisper-1"
# api_key_env = "OPENAI_API_KEY"
# show_transcript = true
"""
