"""Every number and address the project uses, in one place.

Behaviour that public sources disagree on is a setting (see ``config.py``), not a constant here.
"""

from __future__ import annotations

# --- Providers -------------------------------------------------------------------------------
POE_BASE_URL = "https://api.poe.com/v1"
POE_BOT_BASE_URL = "https://api.poe.com/bot/"
POE_UPLOAD_BASE_URL = "https://www.quora.com/poe_api/"
POE_ACCOUNT_BASE_URL = "https://api.poe.com"  # /usage/current_balance, /usage/points_history
OPENAI_BASE_URL = "https://api.openai.com/v1"
PROVIDERS = ("poe", "openai", "compatible")
BACKENDS = ("openai", "legacy")  # Poe's REST API through the openai SDK, or the bot protocol

# --- Timeouts (seconds) ----------------------------------------------------------------------
DEFAULT_TIMEOUT_S = 600.0  # whole request; chat replies from slow reasoning models can take minutes
CONNECT_TIMEOUT_S = 10.0
MEDIA_TIMEOUT_S = 600.0  # media bots answer in up to minutes
PROGRESS_INTERVAL_S = 5.0  # MCP clients time out long calls that report nothing for ~60 s

# --- Retries ---------------------------------------------------------------------------------
# Poe's advice: honour Retry-After and back off exponentially from 250 ms.
DEFAULT_MAX_RETRIES = 4
RETRY_BASE_DELAY_S = 0.25
RETRY_MAX_DELAY_S = 8.0
RETRY_JITTER = 0.25  # up to this fraction of the delay is removed at random
RETRY_AFTER_MAX_S = 60.0  # a server asking us to wait longer than this gets an error instead
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 529})

# --- Rate limits -----------------------------------------------------------------------------
POE_RPM = 500  # requests per minute per key
RATE_LIMIT_MAX_WAIT_S = 30.0  # waiting longer than this for a slot raises rate_limit

# --- Request validation ----------------------------------------------------------------------
TEMPERATURE_RANGE = (0.0, 2.0)
TOP_P_RANGE = (0.0, 1.0)
MAX_STOP_SEQUENCES = 4
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024

# --- Sessions --------------------------------------------------------------------------------
SESSION_TTL_S = 60 * 60  # a conversation expires after 60 minutes idle
DEFAULT_CONTEXT_WINDOW = 128_000  # tokens, when the catalog does not know the model's window
CHARS_PER_TOKEN = 4  # rough estimate used where no tokenizer count exists (the bot protocol)

# --- Catalog ---------------------------------------------------------------------------------
CATALOG_TTL_S = 6 * 60 * 60

# OpenAI list prices in USD per 1M tokens (input, output); overridable in the config file.
OPENAI_PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "o1": (15.00, 60.00),
    "o3-mini": (1.10, 4.40),
}

# --- Media -----------------------------------------------------------------------------------
MAX_MEDIA_BYTES = 200 * 1024 * 1024
INLINE_IMAGE_MAX_BYTES = 512 * 1024  # below this an image is returned to MCP clients inline

# --- Tool loop -------------------------------------------------------------------------------
AGENT_MAX_TURNS = 8
TOOL_TIMEOUT_S = 60.0
TOOL_ARG_RETRIES = 2
COMMAND_TIMEOUT_S = 30.0
COMMAND_OUTPUT_CAP = 64 * 1024
FILE_READ_CAP = 1024 * 1024

# --- MCP server ------------------------------------------------------------------------------
HTTP_HOST = "127.0.0.1"
HTTP_PORT = 8000
SIMULATOR_HOST = "127.0.0.1"
SIMULATOR_PORT = 8787
