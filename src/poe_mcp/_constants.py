"""Every number and address the project uses, in one place, grouped by concept.

Behaviour that public sources disagree on is a setting (see ``config.py``), not a constant here.
Add a number to the group of its concept (the simulator's own numbers stay with the simulator).
"""

from __future__ import annotations

# --- Providers and backends ------------------------------------------------------------------
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
DOCTOR_TIMEOUT_S = 10.0

# --- Retries ---------------------------------------------------------------------------------
# Poe's advice: honour Retry-After and back off exponentially from 250 ms.
DEFAULT_MAX_RETRIES = 4
RETRY_BASE_DELAY_S = 0.25
RETRY_MAX_DELAY_S = 8.0
RETRY_JITTER = 0.25  # up to this fraction of the delay is removed at random
RETRY_AFTER_MAX_S = 60.0  # a server asking us to wait longer than this gets an error instead
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})  # and every 5xx: what can change by itself

# --- Client-side rate limits -----------------------------------------------------------------
POE_RPM = 500  # requests per minute per key
RATE_LIMIT_PERIOD_S = 60.0  # the provider counts requests per minute
RATE_LIMIT_BURST_DIV = 20  # a burst of rpm // 20 requests may go at once after an idle spell
RATE_LIMIT_MARGIN = 0.05  # spacing computed on a 5 % longer window: absorbs network jitter
RATE_LIMIT_MAX_WAIT_S = 30.0  # waiting longer than this for a slot raises rate_limit
RATE_WAIT_NOTICE_S = 1.0  # a call held this long for a rate-limit slot is reported (on_event)

# --- Requests: validation and size limits ----------------------------------------------------
TEMPERATURE_RANGE = (0.0, 2.0)
TOP_P_RANGE = (0.0, 1.0)
MAX_STOP_SEQUENCES = 4
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024
MAX_OUTPUT_TOKENS = 1_000_000  # upper bound accepted for max_tokens in the tool schema
# Text of one request (prompt, history, system, tool calls and results; attachments apart),
# per backend. Poe's largest context windows hold about 1M tokens (~4M characters); other
# OpenAI-compatible servers may hold more. Larger requests fail with too_large before sending.
REQUEST_TEXT_MAX_CHARS = {"openai": 8_000_000, "legacy": 4_000_000}
USAGE_TOKENS_MAX = 100_000_000  # a provider reporting more tokens for one call is not believed
THINKING_PARAM = "thinking_budget"  # Poe's bot parameter behind ask_poe's `thinking`
THINKING_BUDGET_MAX = 32_768

# --- Token estimates (poe_mcp._tokens) -------------------------------------------------------
CHARS_PER_TOKEN = 4  # rough estimate used where no tokenizer count exists (the bot protocol)
MESSAGE_OVERHEAD_TOKENS = 4  # role and separators, per message, in the context-window estimate
ATTACHMENT_TOKENS = 1_000  # an image, a file or audio in a prompt (its base64 size says nothing)

# --- Wire handling: what real OpenAI-compatible providers send -------------------------------
ERROR_QUOTE_CHARS = 300  # of a provider's non-JSON error body (text, HTML title) quoted to users
STREAM_CHUNK_QUOTE_CHARS = 120  # of an unreadable stream chunk quoted in the error
SSE_HEAD_CHARS = 65_536  # of an event stream's body kept, to read one that holds no events
DATA_URI_QUOTE_CHARS = 40  # of a malformed data: URI quoted in the error (never the payload)
LOOP_YIELD_INTERVAL_S = 0.002  # a long stream being parsed lets other requests run this often
LEGACY_UPLOAD_CACHE_MAX = 256  # uploaded files remembered per backend: history re-sends them

# --- Sessions and conversations --------------------------------------------------------------
SESSION_TTL_S = 60 * 60  # a conversation expires after 60 minutes idle
SESSION_ID_MAX_LEN = 128
NEW_SESSION = "new"  # session_id value that explicitly starts a new conversation
DEFAULT_CONTEXT_WINDOW = 128_000  # tokens, when the catalog does not know the model's window
OUTPUT_TOKEN_RESERVE = 4_096  # tokens kept free for the answer when max_tokens is not given
HISTORY_ATTACHMENT_MAX_BYTES = (
    256 * 1024
)  # larger inline attachments are noted, not kept, in history
DEFAULT_CHAT_MODEL = "GPT-5-mini"  # `poe-mcp chat` without -m or a configured `model`

# --- Model catalog, prices, names ------------------------------------------------------------
CATALOG_TTL_S = 6 * 60 * 60
CATALOG_OFFLINE_RETRY_S = (
    60.0  # after a failed /v1/models, serve the fallback this long before retrying
)
TOKENS_PER_MTOK = 1_000_000  # price tables are quoted per million tokens
SUGGESTIONS = 3  # "did you mean" names offered for an unknown model, argument or setting
SUGGESTION_CUTOFF = 0.6  # difflib similarity below which a name is not suggested
ARGUMENT_NAME_MAX_CHARS = 64  # an unknown argument's name is quoted at most this long

# --- Many models at once: compare, consensus, fallbacks, reasoning ---------------------------
COMPARE_MAX_MODELS = 8  # models one comparison or consensus may ask at once
FALLBACKS_MAX = 8  # fallback models one call (or one [fallbacks] entry) may name
# Reasoning effort levels as token budgets, for models that take a budget (thinking_budget);
# clamped to the model's declared range.
REASONING_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576}
# Budgets as levels, for models that take a level: below the first is low, below the second
# medium, else high (0 asks for the lowest level the model offers).
REASONING_LEVEL_THRESHOLDS = (4096, 16384)
COMPARE_COLUMN_MIN_CHARS = 28  # narrower side-by-side columns turn into one block per model

# --- Structured output -----------------------------------------------------------------------
STRUCTURED_REPAIR_ROUNDS = 1  # an invalid answer goes back with its errors this many times
STRUCTURED_ERRORS_SHOWN = 5  # validation errors quoted in the repair prompt and the error
STRUCTURED_ERROR_CHARS = 200  # of one validation error's message (it may quote the value)
STRUCTURED_NAME_MAX = 64  # characters of a json_schema name (OpenAI's limit)

# --- Store: SQLite, Redis, the usage ledger, logs --------------------------------------------
SQLITE_BUSY_TIMEOUT_S = (
    30.0  # other processes hold the write lock for milliseconds; wait, don't fail
)
SESSION_PURGE_INTERVAL_S = 60.0  # expired sessions are deleted lazily, at most this often per store
USAGE_FLUSH_BATCH = 500  # ledger rows written per transaction when calls pile up
# SQLite ledger rows wait this long to be written together (one transaction, rollups folded):
# per-call writes cost more than the rest of a stored turn. Queries of the same store see
# them at once; other processes, and a crash, may miss up to this much.
USAGE_FLUSH_DELAY_S = 0.2
USAGE_BUFFER_MAX = 10_000  # rows kept for retry while the database refuses writes
USAGE_RECENT_LIMIT = 50
REDIS_KEY_PREFIX = "poe-mcp:"  # every key this project writes starts with this
REDIS_CONNECT_TIMEOUT_S = 2.0  # a down Redis must fail a call fast, not hang it
REDIS_SOCKET_TIMEOUT_S = 5.0  # our commands take milliseconds; longer means Redis is stuck
REDIS_RETRIES = 2  # reconnect attempts per command: a restart leaves stale pooled connections
REDIS_RETRY_BASE_S = 0.05
REDIS_RETRY_CAP_S = 0.5
REDIS_OP_MARK_TTL_S = 600  # how long a write remembers its id, so a retried write is not doubled
REDIS_SCAN_BATCH = 1000  # ledger records fetched per round trip when aggregating
REDIS_RATE_WAITER_GRACE_S = (
    5.0  # a waiter of a killed process stops counting this long after its slot
)
# Upper edges (ms) of the latency histogram kept per hour in the ledger rollups; one more bucket
# holds everything slower. Part of the stored format (SQLite migration 8 columns lat_0..lat_N,
# Redis rollup arrays): changing them needs a new migration.
ROLLUP_LATENCY_EDGES_MS = (
    50, 100, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 7_500,
    10_000, 15_000, 20_000, 30_000, 60_000, 120_000,
)  # fmt: skip
ROLLUP_BUCKET_S = 3600  # one rollup row per hour (UTC) and dimensions
LOGS_LIST_DEFAULT = 20  # entries `poe-mcp logs` shows without -n
LOGS_RETENTION_DAYS = 90  # logged prompts and answers older than this are deleted
LOGS_PURGE_INTERVAL_S = 60 * 60  # retention is applied at most this often per process
LOGS_REDIS_MAX = 10_000  # newest entries a Redis store keeps
LOGS_PREVIEW_CHARS = 70  # of a prompt or answer in the `poe-mcp logs` table

# --- Media generation and downloads ----------------------------------------------------------
DEFAULT_IMAGE_MODEL = "GPT-Image-1"
DEFAULT_VIDEO_MODEL = "Veo-3"
DEFAULT_AUDIO_MODEL = "ElevenLabs"
MAX_MEDIA_BYTES = 200 * 1024 * 1024
INLINE_IMAGE_MAX_BYTES = 512 * 1024  # below this an image is returned to MCP clients inline
MEDIA_RESOURCES_LISTED = 100  # newest saved media files in MCP resources/list
MEDIA_RESOURCE_MAX_BYTES = 32 * 1024 * 1024  # larger files: GET /media/<name> over HTTP instead
MEDIA_MAX_FILES = 8  # links downloaded from one reply; more is a bot gone astray
MEDIA_DOWNLOAD_RETRIES = 2  # a dropped connection or 5xx from the CDN is worth another try
MEDIA_CHUNK_BYTES = 64 * 1024
MEDIA_SNIFF_BYTES = 64  # enough for every signature we recognise (ftyp brands sit at 8..12)
MEDIA_NAME_MODEL_CHARS = 40  # the model part of a saved file's name
MEDIA_NAME_HASH_CHARS = 8
MEDIA_SLUG_CHARS = 40  # of the prompt in a generated file's name
MEDIA_REPLY_QUOTE_CHARS = 300  # how much of a bot's reply an error quotes
MEDIA_MAX_REDIRECTS = 5  # redirects one media download may follow (each one checked)
DOWNLOAD_POLICIES = ("auto", "public", "any")  # [media] download_policy / POE_MCP_DOWNLOAD_POLICY

# --- Tools and the agent loop ----------------------------------------------------------------
AGENT_MAX_TURNS = 8
AGENT_MAX_TURNS_LIMIT = 32  # highest max_turns the MCP tool accepts: each turn is a paid request
AGENT_CLIENT_TOOLS_MAX = 64  # tool definitions one call may pass (each costs prompt tokens)
AGENT_TRACE_QUOTE_CHARS = 200  # of each tool result quoted in the answer text
TOOL_TIMEOUT_S = 60.0
TOOL_ARG_RETRIES = 2
TOOL_THREADS = 32  # worker threads for sync tools: one turn's calls must not queue behind a few
TOOL_SCHEMA_CACHE_MAX = 256  # tool parameter schemas remembered as valid (checked once each)
# A caller's tool `parameters`: nesting (objects and arrays) and size past which it is refused
# before sending (a deeper schema overflows the validator's recursion; a larger one would not
# fit a model's context next to the conversation anyway).
TOOL_SCHEMA_MAX_DEPTH = 64
TOOL_SCHEMA_MAX_CHARS = 500_000
TOOL_ARGUMENT_MAX_DEPTH = 32  # nesting of one tool argument (JSON Schema, bot params, results)
TOOL_RESULT_CAP = 64 * 1024  # characters of one tool result sent back to the model
MCP_TOOL_CONNECT_TIMEOUT_S = 30.0  # starting a configured MCP server and listing its tools

# --- Built-in tools: files and commands (hard boundaries) ------------------------------------
FILE_READ_CAP = 1024 * 1024
FILE_WRITE_CAP = 1024 * 1024  # bytes write_file accepts in one call
LIST_DIRECTORY_CAP = 1000  # entries listed by the list_directory built-in tool
SEARCH_MAX_MATCHES = 200  # matches returned by search_files
SEARCH_MAX_FILES = 5000  # files examined by one search_files call
SEARCH_LINE_CHARS = 200  # a matching line is cut to this length
PATH_MAX_CHARS = 4096  # a longer path is refused before it reaches the file system (Linux PATH_MAX)
COMMAND_TIMEOUT_S = 30.0
COMMAND_GRACE_S = 5.0  # the agent waits this long past a command's own timeout (which kills it)
COMMAND_OUTPUT_CAP = 64 * 1024
COMMAND_MAX_ARGS = 256  # arguments one run_command call may pass
COMMAND_ARG_MAX_CHARS = 4096  # characters of one run_command argument
COMMAND_PATH = "/usr/local/bin:/usr/bin:/bin"  # PATH of a command (plus its own folder)
COMMAND_REAP_S = 2.0  # after a timeout kill: how long the rest of a command's output is drained
COMMAND_CHDIR_MAX = 32  # folders a git/tar command line may move through (-C, --directory)
GIT_ALTERNATES_DEPTH = 5  # object stores a repository may borrow through (git's own limit)
PROTECTED_SCAN_MAX_ENTRIES = 10_000  # entries of poe-mcp's own dirs examined for hard links
PROTECTED_SCAN_DEPTH = 4  # folder levels of poe-mcp's own dirs examined for hard links
REDIS_CONFIG_TIMEOUT_S = 1.0  # asking a Redis store where its dump file is (to protect it)
COMMAND_PROBE_TIMEOUT_S = 5.0  # checking once that an allow-listed sed/gawk has --sandbox

# --- Tiered orchestration --------------------------------------------------------------------
ORCH_TEXT_MAX = 4000  # characters of one goal, target, context or summary in a plan
ORCH_MAX_TRACKS = 8
ORCH_MAX_TICKETS = 40
ORCH_MAX_RETRIES = 2  # worker retries with a QA finding before escalating
ORCH_ESCALATION_ATTEMPTS = 1  # attempts with the stronger model before a ticket is blocked
ORCH_CONCURRENCY = 4  # tickets worked on at once
ORCH_WORKER_MAX_TURNS = 8  # model requests of one worker attempt (its agent loop)
ORCH_PLAN_REPAIRS = 1  # an invalid plan is fed back this many times before the run fails
ORCH_OUTPUT_MAX = 20_000  # characters of a ticket's output kept in the run (and shown)
# A working run saves its state at least this often, so another process can tell a live run
# (saved recently) from one whose process died; resume refuses a run saved as running more
# recently than ORCH_RUN_LIVE_S.
ORCH_HEARTBEAT_S = 5.0
ORCH_RUN_LIVE_S = 20.0
ORCH_APPROVAL_TIMEOUT_S = 300.0  # an unanswered step-mode question is a refusal after this

# --- MCP server: transports, tool arguments, progress ----------------------------------------
HTTP_HOST = "127.0.0.1"
HTTP_PORT = 8000
HTTP_BACKLOG = 128
HTTP_HEALTH_PATH = "/health"
HTTP_METRICS_PATH = "/metrics"
HTTP_MCP_PATH = "/mcp"
HTTP_MEDIA_PATH = "/media"  # saved media files, behind the bearer token: /media/<name>
HTTP_TOKEN_BYTES = 32  # random bearer token generated for a loopback server started without one
HTTP_TOKEN_MIN_CHARS = 32  # a stored token shorter than this (edited by hand?) is replaced
# HTTP transport against slow or greedy clients (each a setting: `serve --help`, [server]).
HTTP_HEADER_TIMEOUT_S = 10.0  # a request's line and headers must arrive within this
HTTP_BODY_TIMEOUT_S = 30.0  # and its body within this (from the end of the headers)
HTTP_KEEP_ALIVE_S = 5.0  # idle keep-alive connections are closed after this
HTTP_MAX_CONNECTIONS = 256  # open connections; more are answered 503 and closed
HTTP_MAX_BODY_BYTES = 8 * 1024 * 1024  # a 2M-character prompt fits, escaped JSON included
MCP_SESSION_IDLE_S = 15 * 60.0  # an MCP HTTP session with no request for this long ends
MCP_MAX_SESSIONS = 1000  # open MCP HTTP sessions; a new one beyond this gets 503
METRICS_LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
STDIO_ERROR_MESSAGE_CHARS = 200  # of the JSON parser's explanation quoted in a stdio error
JSONRPC_ID_MAX_DIGITS = 64  # a longer integer is no request id (and is never converted)
MAX_ATTACHMENTS = 10  # files per ask_with_attachment call
STREAM_PROGRESS_MIN_INTERVAL_S = 0.25  # partial text is reported at most this often
PROGRESS_TEXT_MAX_CHARS = 4_000  # tail of the partial answer sent with each progress report
LIST_SESSIONS_MAX = 100
LIST_MODELS_MAX = 500
# MCP tool argument limits (characters): the schema states them, so nothing bigger is parsed on.
TOOL_BOT_MAX_CHARS = 200
TOOL_PROMPT_MAX_CHARS = 2_000_000
TOOL_SYSTEM_MAX_CHARS = 200_000
TOOL_STOP_MAX_CHARS = 500  # of one stop sequence
TOOL_PATH_MAX_CHARS = 4_096
TOOL_MEDIA_PROMPT_MAX_CHARS = 20_000
TOOL_NAME_MAX_CHARS = 128  # a tool (function) name, a model filter, a query
TOOL_TEXT_MAX_CHARS = 200_000  # other free text: a tool result, a description
PROMPT_FOCUS_MAX_CHARS = 1_000  # review_diff's `focus` (an MCP prompt argument)

# --- Web console and the command line --------------------------------------------------------
CONSOLE_PATH = "/console"  # where `serve --transport http` mounts the console
CONSOLE_PORT = 8080  # `poe-mcp console` default port
CONSOLE_SESSION_TTL_S = 12 * 60 * 60  # a console login lasts this long without a new login
CONSOLE_SESSIONS_MAX = 256  # logins kept per process; the oldest is dropped beyond
CONSOLE_LOGIN_FAILURES_MAX = 10  # wrong tokens per minute before logins pause (brute force)
CONSOLE_LOGIN_WINDOW_S = 60.0
CONSOLE_UPLOAD_MAX_BYTES = 20 * 1024 * 1024  # one attachment sent from the browser
CONSOLE_ATTACHMENTS_MAX = 8  # attachments per message
CONSOLE_TURNS_KEPT = 64  # streamed turns (running or just finished) remembered per process
CONSOLE_MODELS_SHOWN = 500  # rows of the settings page's model table
CONSOLE_DASHBOARD_RANGES_H = {"24h": 24, "7d": 24 * 7, "30d": 24 * 30}
CONSOLE_RUN_EVENTS_KEPT = 200  # live events of one orchestration run shown on its page
CONSOLE_SSE_PING_S = 15.0  # keep-alive comments on idle event streams
CONSOLE_RECONNECT_GRACE_S = 5.0  # a turn nobody follows for this long is cancelled
CONSOLE_MODEL_MAX_CHARS = 200  # a model name typed in the console (as TOOL_BOT_MAX_CHARS)
CONSOLE_URL_MAX_CHARS = 2048  # a base URL typed on the settings page
CONSOLE_MESSAGE_MAX_BYTES = 4 * 1024 * 1024  # the text of one message or system prompt (UTF-8)
CONSOLE_FORM_SLACK_BYTES = 64 * 1024  # a message's form fields and multipart framing
CONSOLE_LABEL_MAX_CHARS = 80  # a dashboard row or series name shown (the full name on hover)
CHAT_SPINNER_REFRESH_HZ = 12  # redraws per second of the streamed Markdown and the spinner

# --- Secrets: what is scrubbed ---------------------------------------------------------------
SECRET_MIN_CHARS = 6  # registered secrets shorter than this would redact ordinary words
BEARER_MIN_TOKEN_CHARS = 16  # "Bearer YOUR_TOKEN" in documentation is not a credential
SECRET_LOOKALIKE_MIN_CHARS = 16  # a quoted value this long, of token characters, is masked
STREAM_HOLDBACK_MAX_CHARS = 1024  # longest tail a streamed answer holds back as a maybe-secret
SECRET_ENCODED_MIN_CHARS = 16  # a secret this long is also scrubbed in base64, hex, %-encoding

# --- Simulator (its own deterministic numbers; it plays the provider) ------------------------
SIMULATOR_HOST = "127.0.0.1"
SIMULATOR_PORT = 8787
SIM_PROVIDERS = ("poe", "openai")  # whose API the simulator plays (`simulator --provider`)
SIM_INITIAL_POINTS = 10_000_000  # balance of every ordinary key (keys starting with "broke" get 0)
SIM_POINTS_PER_USD = 33_333  # Poe sells roughly 1M points for 30 USD
SIM_UNPRICED_POINTS = 50  # flat charge per call for a model whose price is null
SIM_RATE_WINDOW_S = 60.0  # sliding window of the requests-per-minute limit
SIM_MESSAGE_OVERHEAD_TOKENS = 4  # per message, like OpenAI's chat format overhead
SIM_ATTACHMENT_TOKENS = 85  # per attachment, like a low-detail image tile
SIM_MEDIA_DELAY_S = 0.0  # in-process default: tests stay fast
SIM_CLI_MEDIA_DELAY_S = 2.0  # `poe-mcp simulator` default: closer to a real (slow) media bot
SIM_STREAM_CHUNK_CHARS = 16  # streamed content is split into pieces of about this size
SIM_TOOL_ARG_CHUNK_CHARS = 8  # streamed tool-call arguments arrive in fragments of this size
SIM_REQUEST_LOG_MAX = 1000  # oldest entries of /sim/requests are dropped beyond this
SIM_MEDIA_STORE_MAX = 200  # generated media files kept in memory
SIM_POINTS_HISTORY_MAX_LIMIT = 100
SIM_POINTS_HISTORY_DEFAULT_LIMIT = 20
SIM_SCHEMA_MAX_DEPTH = 16  # nesting the simulator follows when it builds an instance ($ref loops)
SIM_DATED_SNAPSHOT = "2024-08-06"  # the simulator's dated_id quirk answers <model>-<this>
SIM_SSE_RETRY_MS = 3000  # the retry: field the simulator's sse_fields quirk sends
SIM_REASONING_MAX_TOKENS = 64  # reasoning tokens a simulated model spends at most
