/*
 * tradehost plugin ABI, version 1 (minor 1; what each minor added is marked "ABI 1.y").
 *
 * One header, plain C (C99), also valid C++. A plugin is a shared library that exports exactly
 * one symbol, `tradehost_plugin_entry`, returning a pointer to a static, read-only
 * th_plugin_descriptor. Everything else is reached through that descriptor.
 *
 * Compatibility rules
 *   - The host accepts a plugin whose abi_major equals TH_ABI_VERSION_MAJOR and whose abi_minor
 *     is not above the host's own; otherwise it refuses it with a message naming both versions.
 *   - Every struct that crosses the boundary starts with `struct_size` (its sizeof as the writer
 *     knew it). Fields are only ever appended. A reader ignores bytes past what it knows and
 *     uses the documented default for a field the writer's struct_size does not reach. Use
 *     TH_HAS_FIELD() to test for a field. Reserved fields and unassigned flag bits are zero.
 *   - Enumerations are fixed-width integers (int32_t) with #define'd values; 0 is never a
 *     meaningful value so a zeroed field reads as "absent".
 *
 * Ownership
 *   - Every pointer the host passes into a plugin call (events, params, strings) is BORROWED for
 *     the duration of that call only. Copy what you keep.
 *   - Data a plugin hands back to the host goes through host services (emit_*, reject_order,
 *     log, ...). The host copies it before the service returns; the plugin keeps ownership of
 *     its buffers.
 *   - Strings are th_str views: UTF-8, (pointer, length), NOT required to be NUL-terminated.
 *     A th_str with len 0 is the empty/absent string; ptr may then be NULL.
 *   - Nobody frees memory allocated by the other side.
 *
 * Errors
 *   - Every call returns a th_status. On failure the instance's last_error() describes it; the
 *     returned view stays valid until the next call on that instance.
 *   - Nothing may unwind across the boundary: C++ plugins catch every exception (the helper in
 *     <tradehost/plugin.hpp> does this).
 *
 * Threading
 *   - Unless the descriptor sets TH_PLUGIN_FLAG_THREAD_SAFE, the host never calls one instance
 *     from two threads at once. Distinct instances may be called concurrently.
 *   - All plugin calls are made from host-owned threads.
 *   - Host services (th_host_api) are callable from any thread, including the plugin's own,
 *     from inside create() until destroy() is called.
 *   - A plugin that starts its own threads stops and joins them in stop() or destroy(): once
 *     destroy() returns, no code of the instance may run (the host may unload the library).
 *     Avoid thread_local objects with destructors on threads the plugin does not own: glibc
 *     cannot unload a library while such destructors are pending.
 *
 * Lifecycle and unloading
 *   - create() -> start() -> event callbacks -> stop() -> destroy(). A library may have several
 *     live instances (e.g. two agents using one strategy with different params); keep all
 *     state in the instance, not in globals.
 *   - The host unloads a library only after every instance made from it has been destroyed and
 *     no call into it is in flight. Build plugins with hidden visibility and, for C++,
 *     -fno-gnu-unique (STB_GNU_UNIQUE symbols make a library impossible to unload).
 */
#ifndef TRADEHOST_PLUGIN_H
#define TRADEHOST_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TH_ABI_VERSION_MAJOR 1
#define TH_ABI_VERSION_MINOR 1

/* The single symbol a plugin library exports (see tradehost_plugin_entry() at the end). */
#define TH_PLUGIN_ENTRY_SYMBOL "tradehost_plugin_entry"

#if defined(__GNUC__) || defined(__clang__)
#define TH_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define TH_PLUGIN_EXPORT
#endif

/* True when a struct written with `ptr->struct_size` bytes contains `field`. */
#define TH_HAS_FIELD(ptr, type, field)                                                                       \
  ((ptr)->struct_size >= offsetof(type, field) + sizeof(((type *)0)->field))

/* ---------------------------------------------------------------------------------------------
 * Status codes
 * ------------------------------------------------------------------------------------------- */
typedef int32_t th_status;
#define TH_OK 0
#define TH_ERROR 1            /* failure; see last_error() */
#define TH_INVALID_ARGUMENT 2 /* the input was malformed; see last_error() */
#define TH_UNSUPPORTED 3      /* the capability or field is not supported */
#define TH_REJECTED 4         /* check_order(): the intent is rejected (not a failure) */
#define TH_UNAVAILABLE 5      /* host service: cannot accept now (shutting down) */

/* ---------------------------------------------------------------------------------------------
 * Strings
 * ------------------------------------------------------------------------------------------- */
typedef struct th_str {
  const char *ptr; /* UTF-8 bytes, not required to be NUL-terminated; may be NULL if len is 0 */
  size_t len;
} th_str;

/* A th_str from a string literal (a literal only: sizeof of a pointer would be wrong), usable
 * in static initialisers. */
#define TH_STR(literal)                                                                                      \
  { (literal), sizeof(literal) - 1 }

/* ---------------------------------------------------------------------------------------------
 * Enumerations (int32_t values)
 * ------------------------------------------------------------------------------------------- */
/* Plugin kinds */
#define TH_KIND_STRATEGY 1
#define TH_KIND_RISK 2
#define TH_KIND_EXECUTOR 3
#define TH_KIND_AUDIT_SINK 4

/* Signal actions */
#define TH_SIGNAL_BUY 1
#define TH_SIGNAL_SELL 2
#define TH_SIGNAL_HOLD 3
#define TH_SIGNAL_CLOSE 4

/* Order sides */
#define TH_SIDE_BUY 1
#define TH_SIDE_SELL 2

/* Order types */
#define TH_ORDER_MARKET 1
#define TH_ORDER_LIMIT 2
#define TH_ORDER_STOP 3
#define TH_ORDER_STOP_LIMIT 4

/* Time in force; 0 (unset) means DAY */
#define TH_TIF_DAY 1
#define TH_TIF_IOC 2
#define TH_TIF_FOK 3
#define TH_TIF_GTC 4
#define TH_TIF_GTD 5

/* Fill status */
#define TH_FILL_COMPLETE 1
#define TH_FILL_PARTIAL 2
#define TH_FILL_REJECTED 3
#define TH_FILL_CANCELLED 4

/* Log levels */
#define TH_LOG_DEBUG 1
#define TH_LOG_INFO 2
#define TH_LOG_WARN 3
#define TH_LOG_ERROR 4

/* Audit sink states for th_host_api.report_sink_state() (ABI 1.1) */
/* TH_SINK_UNAVAILABLE: cannot store now (I/O error, disk full, database locked): the sink keeps what
   it was given, retries, and reports TH_SINK_WRITABLE once it stores again. */
#define TH_SINK_WRITABLE 1 /* events are being stored */
#define TH_SINK_UNAVAILABLE 2

/* Trading states for th_host_api.trading_state() (ABI 1.1) */
#define TH_TRADING_ACTIVE 1   /* intents pass to the risk chain */
#define TH_TRADING_REDUCING 2 /* only intents that reduce the agent's position in the instrument pass */
#define TH_TRADING_HALTED 3   /* no intent passes; executors' working orders were cancelled (cancel_all) */

/* Metric types for th_host_api.metric() */
#define TH_METRIC_COUNTER 1   /* value is added; must be >= 0 */
#define TH_METRIC_GAUGE 2     /* value is set */
#define TH_METRIC_HISTOGRAM 3 /* value is observed */

/* ---------------------------------------------------------------------------------------------
 * Events. Timestamps are int64 nanoseconds since the Unix epoch (UTC). Every event's
 * `extra_json` is an optional JSON object text holding the payload fields the struct does not
 * model (the contract's `metadata`, fields added by later versions, unknown fields), so nothing
 * is lost. Plugins that emit events may pass extra_json through unchanged.
 * ------------------------------------------------------------------------------------------- */

/* Signal flags */
#define TH_SIGNAL_HAS_PRICE 0x1u

/* A normalized signal (subject signals.normalized). */
typedef struct th_signal {
  uint32_t struct_size;
  uint32_t flags;        /* TH_SIGNAL_HAS_* */
  th_str corr_id;        /* ^[a-zA-Z0-9_-]{8,64}$ */
  th_str parent_corr_id; /* optional */
  th_str instrument;     /* e.g. "AAPL", "BTC/USD" */
  int32_t action;        /* TH_SIGNAL_* */
  int32_t reserved0;
  double strength;      /* 0..1 */
  double price;         /* valid when flags & TH_SIGNAL_HAS_PRICE */
  int64_t timestamp_ns; /* signal time */
  th_str source;        /* webhook source name */
  th_str extra_json;    /* optional JSON object: metadata and unmodelled fields */
} th_signal;

/* Order-intent flags: which optional numbers are present */
#define TH_INTENT_HAS_PRICE_LIMIT 0x1u
#define TH_INTENT_HAS_STOP_PRICE 0x2u
#define TH_INTENT_HAS_MAX_POSITION 0x4u
#define TH_INTENT_HAS_STOP_LOSS 0x8u
#define TH_INTENT_HAS_TAKE_PROFIT 0x10u
#define TH_INTENT_HAS_MAX_SLIPPAGE 0x20u

/* An order intent (subject decisions.order_intent). */
typedef struct th_order_intent {
  uint32_t struct_size;
  uint32_t flags; /* TH_INTENT_HAS_* */
  th_str corr_id;
  th_str parent_corr_id;
  th_str agent_id; /* the host sets it from the deployment when a strategy emits */
  th_str instrument;
  int32_t side;          /* TH_SIDE_* */
  int32_t order_type;    /* TH_ORDER_* */
  int32_t time_in_force; /* TH_TIF_*, 0 = DAY */
  int32_t reserved0;
  double quantity; /* >= 0.001 */
  double price_limit;
  double stop_price;
  int64_t timestamp_ns;
  th_str strategy; /* strategy name; the host fills the plugin name when empty */
  /* risk_params */
  double max_position;
  double stop_loss;   /* fraction of entry price, e.g. 0.02 */
  double take_profit; /* fraction of entry price */
  double max_slippage_bps;
  th_str extra_json;
  /* ABI 1.1: the host's client order id, "{corr_id}.{agent_id}.{n}", n = the intent's number
   * (1, 2, ...) among those its agent emitted for the signal in on_signal() (from 1001 for intents
   * emitted outside it). Set by the host on every intent it passes to check_order() and
   * on_order_intent(): unique per agent and intent, and the same when a signal is redelivered, so
   * an executor can send it to the venue (e.g. as FIX ClOrdID) and de-duplicate on it. The host
   * hands an executor one order_id at most once. Ignored in emit_order_intent() (the host assigns
   * it). Empty (len 0) when the writer's struct_size does not reach it (a 1.0 host): check
   * TH_HAS_FIELD. */
  th_str order_id;
} th_order_intent;

/* A fill (subject executions.fill). */
typedef struct th_fill {
  uint32_t struct_size;
  uint32_t flags; /* reserved, zero */
  th_str corr_id;
  th_str parent_corr_id; /* set on protective stop/target closes: the entry's corr_id */
  th_str fill_id;
  th_str order_id;
  th_str agent_id;
  th_str instrument;
  int32_t side;        /* TH_SIDE_* */
  int32_t fill_status; /* TH_FILL_* */
  double quantity_filled;
  double quantity_requested; /* 0 = not reported */
  double avg_fill_price;
  int64_t fill_timestamp_ns;
  th_str rejection_reason; /* e.g. "EXEC-001: ..." when rejected */
  th_str execution_venue;  /* "simulator" for the simulator */
  double commission;
  double exchange_fee;
  double regulatory_fee;
  double slippage_bps; /* always reported when the struct reaches it (0 = no slippage) */
  th_str extra_json;
} th_fill;

/* A position reconcile (subject executions.reconcile). */
typedef struct th_reconcile {
  uint32_t struct_size;
  uint32_t flags; /* reserved, zero */
  th_str corr_id;
  th_str parent_corr_id;
  th_str reconcile_id;
  th_str agent_id;
  th_str account_id;
  th_str instrument;
  double position_delta; /* + buy / - sell */
  double new_position;
  double avg_entry_price;
  double realized_pnl;
  double unrealized_pnl;
  int64_t reconcile_timestamp_ns;
  th_str extra_json;
} th_reconcile;

/* An audit event (subject audit.event), before a sink chains it. */
typedef struct th_audit_event {
  uint32_t struct_size;
  uint32_t flags;        /* reserved, zero */
  th_str event_id;       /* unique and stable: a redelivered event carries the same id */
  th_str correlation_id; /* the corr_id of the flow */
  th_str event_type;     /* webhook_received, signal_published, decision_made, ... */
  int64_t timestamp_ns;
  th_str service;   /* the stage or plugin that produced it */
  th_str data_json; /* the event itself, a JSON object */
  /* ABI 1.1: the host numbers the events it gives one sink instance 1, 2, 3, ... in call order
   * (a redelivered event gets a new number). A sink that sets TH_PLUGIN_FLAG_REPORTS_DURABLE
   * names them in durable_up_to(). 0 from a 1.0 host (check TH_HAS_FIELD). */
  uint64_t sequence;
} th_audit_event;

/* A position as the host's portfolio knows it (per agent and instrument). */
typedef struct th_position {
  uint32_t struct_size; /* the caller sets it to sizeof(th_position) */
  uint32_t flags;       /* reserved, zero */
  double quantity;      /* signed: long > 0, short < 0 */
  double avg_entry_price;
  double realized_pnl;
  double unrealized_pnl; /* against the last price seen */
  double last_price;
  double realized_pnl_today; /* since 00:00 UTC of the host clock */
} th_position;

/* A metric label (name, value). */
typedef struct th_label {
  th_str name;
  th_str value;
} th_label;

/* ---------------------------------------------------------------------------------------------
 * Host services. The host passes a th_host_api table and an opaque th_host handle (one per
 * instance) to create(). Both stay valid until destroy() returns. Every service copies what it
 * is given before returning and may be called from any thread. Services added in later minors
 * are appended; check TH_HAS_FIELD(api, th_host_api, name) before calling one.
 * ------------------------------------------------------------------------------------------- */
typedef struct th_host th_host; /* opaque, owned by the host */

typedef struct th_host_api {
  uint32_t struct_size;
  uint16_t abi_major; /* the host's ABI version */
  uint16_t abi_minor;

  /* Structured log line attributed to the instance; corr_id may be empty. */
  void (*log)(th_host *host, int32_t level, th_str corr_id, th_str message);

  /* The host clock in ns since the epoch. During a replay this is the replayed event time. */
  int64_t (*now_ns)(th_host *host);

  /* Strategy: emit an order intent. The host sets agent_id, passes the intent through the risk
   * chain and publishes it. Returns TH_OK when accepted for processing. */
  th_status (*emit_order_intent)(th_host *host, const th_order_intent *intent);

  /* Executor: publish a fill. The host's portfolio derives the reconcile from it. */
  th_status (*emit_fill)(th_host *host, const th_fill *fill);

  /* Executor/portfolio plugins: publish a reconcile. */
  th_status (*emit_reconcile)(th_host *host, const th_reconcile *reconcile);

  /* Read a position. An empty agent_id means the calling agent (strategy instances) or the
   * total over all agents (other kinds). An empty instrument sums the PnL fields over every
   * instrument (quantity, avg_entry_price and last_price are then zero). *out must have
   * struct_size set by the caller; the host writes only fields the caller's size reaches.
   * A flat, unknown position reads as zeros. */
  th_status (*get_position)(th_host *host, th_str agent_id, th_str instrument, th_position *out);

  /* Count, set or observe a metric. Names and labels follow Prometheus rules; a metric keeps
   * the type and label names of its first use. */
  th_status (*metric)(th_host *host, int32_t type, th_str name, const th_label *labels, size_t label_count,
                      double value);

  /* Risk: called from within check_order() before returning TH_REJECTED, to say which rule
   * rejected the intent (a short machine label, used as the metric label) and why. */
  th_status (*reject_order)(th_host *host, th_str rule, th_str reason);

  /* Write an audit event (e.g. a strategy's decision with its reason). The host assigns the
   * event_id and timestamp; data_json must be a JSON object. */
  th_status (*emit_audit)(th_host *host, th_str event_type, th_str corr_id, th_str data_json);

  /* ABI 1.1. Audit sink: says whether the sink can store events now (TH_SINK_WRITABLE or
   * TH_SINK_UNAVAILABLE) and why (a short text for people, e.g. the I/O error; may be empty when
   * writable). Call it on every change, from any thread (typically the sink's writer thread).
   * While any sink is unavailable the host rejects new order intents (rule audit_unavailable),
   * answers 503 on /healthz and /readyz naming the sink, and logs and counts the change; it
   * resumes by itself on TH_SINK_WRITABLE. Copies `reason`. TH_INVALID_ARGUMENT for another
   * state; TH_UNSUPPORTED from other kinds. A 1.0 sink never calls it: for such a sink the host
   * takes a failing on_audit_event() (other than TH_INVALID_ARGUMENT) as unavailable. */
  th_status (*report_sink_state)(th_host *host, int32_t state, th_str reason);

  /* ABI 1.1. Audit sink with TH_PLUGIN_FLAG_REPORTS_DURABLE: every event this instance was
   * given with sequence <= `sequence` is stored durably (committed where a restart of the process
   * finds it), or was a duplicate of one stored. Non-decreasing; call it after each commit, from
   * any thread. The host acknowledges a bus message (JetStream ack) only once every sink has it
   * durable. Events whose on_audit_event() failed may be passed over. TH_INVALID_ARGUMENT for a
   * sequence the host never gave; TH_UNSUPPORTED from other kinds. */
  th_status (*durable_up_to)(th_host *host, uint64_t sequence);

  /* ABI 1.1. The host's trading state: TH_TRADING_ACTIVE, TH_TRADING_REDUCING or
   * TH_TRADING_HALTED (set by an operator: POST /admin/trading-state, `tradehost trading-state`;
   * persisted by the host across restarts). The host enforces it itself before the risk chain
   * (rules trading_reducing, trading_halted), so a plugin needs it only to adapt (e.g. a risk
   * check that also guards other hosts, a strategy that stops emitting). Any kind, any thread;
   * cheap (an atomic read), no ownership. A 1.0 host's table does not reach it (check
   * TH_HAS_FIELD(api, th_host_api, trading_state)): such a host has no trading state, read it as
   * TH_TRADING_ACTIVE. */
  int32_t (*trading_state)(th_host *host);
} th_host_api;

/* ---------------------------------------------------------------------------------------------
 * The plugin descriptor
 * ------------------------------------------------------------------------------------------- */
typedef struct th_instance th_instance; /* opaque, owned by the plugin */

/* Descriptor flags */
#define TH_PLUGIN_FLAG_THREAD_SAFE 0x1u /* the host may call one instance from several threads */
/* ABI 1.1, audit sinks: on_audit_event() only queues the event (TH_OK = accepted, not yet stored);
 * the sink reports what is stored with th_host_api.durable_up_to(). Without it, TH_OK from
 * on_audit_event() means stored. A 1.1 host ignores the flag on a plugin stating abi_minor 0. */
#define TH_PLUGIN_FLAG_REPORTS_DURABLE 0x2u

typedef struct th_plugin_descriptor {
  uint32_t struct_size;
  uint16_t abi_major;   /* TH_ABI_VERSION_MAJOR the plugin was built against */
  uint16_t abi_minor;   /* the lowest host ABI minor the plugin needs: normally the header's
                           TH_ABI_VERSION_MINOR; a plugin built against a later 1.y header that uses
                           nothing 1.y added may state an earlier minor and load in older hosts */
  int32_t kind;         /* TH_KIND_* */
  uint32_t flags;       /* TH_PLUGIN_FLAG_* */
  th_str name;          /* [a-z0-9_-]+, unique per version within a host */
  th_str version;       /* semantic version, e.g. "1.2.0" */
  th_str description;   /* one line */
  th_str params_schema; /* JSON Schema (draft 7) for the params; empty accepts any object */

  /* Required. Creates an instance from params (a JSON object text, borrowed). Always returns an
   * instance unless out of memory: on failure *status is not TH_OK, last_error() says why, and
   * the host calls destroy() next. `api` and `host` stay valid until destroy(). */
  th_instance *(*create)(const th_host_api *api, th_host *host, th_str params_json, th_status *status);

  /* Required. Frees the instance. Not called while another call on the instance is running.
   * Stops and joins any thread the instance started; no instance code may run afterwards. */
  void (*destroy)(th_instance *instance);

  /* Required. The last error message; valid until the next call on this instance. */
  th_str (*last_error)(th_instance *instance);

  /* Optional. start() is called once before the first event; stop() once after the last,
   * and must flush what the instance buffers (audit sinks: everything written durably). */
  th_status (*start)(th_instance *instance);
  th_status (*stop)(th_instance *instance);

  /* Strategy (required), executor and risk (optional): a normalized signal. */
  th_status (*on_signal)(th_instance *instance, const th_signal *signal);

  /* Risk (required): approve (TH_OK) or reject (TH_REJECTED, after host->reject_order()). */
  th_status (*check_order)(th_instance *instance, const th_order_intent *intent);

  /* Executor (required): an approved order intent. */
  th_status (*on_order_intent)(th_instance *instance, const th_order_intent *intent);

  /* Optional, any kind: fills published by executors. */
  th_status (*on_fill)(th_instance *instance, const th_fill *fill);

  /* Audit sink (required): an event to store. Must be idempotent on event_id. TH_OK: stored
   * (or, with TH_PLUGIN_FLAG_REPORTS_DURABLE, queued). TH_INVALID_ARGUMENT: this event can never
   * be stored (the host logs and skips it). Any other failure: the sink cannot store now; the
   * host holds the event and gives it again (ABI 1.1 hosts; see report_sink_state()). */
  th_status (*on_audit_event)(th_instance *instance, const th_audit_event *event);

  /* ABI 1.1, executor (optional): cancel every working order of this instance at its venue
   * (resting orders, protective stops and targets) and record each cancel (a `cancelled` fill
   * through emit_fill and/or an `order_cancelled` audit event through emit_audit). The host calls
   * it when its trading state becomes TH_TRADING_HALTED (and at start when it restores halted),
   * from a host thread (an HTTP or start-up thread), serialised with the instance's other calls
   * unless TH_PLUGIN_FLAG_THREAD_SAFE. Host services may be called from inside it. TH_OK once
   * every cancel was sent. Null, or beyond a 1.0 descriptor's struct_size: the host cannot
   * cancel this executor's orders and logs so (executor_cancel_all_unsupported). */
  th_status (*cancel_all)(th_instance *instance);
} th_plugin_descriptor;

/* The entry point every plugin exports. Returns a pointer to static, read-only data. */
typedef const th_plugin_descriptor *(*th_plugin_entry_fn)(void);

/* The one function a plugin defines with external, default visibility. Declared here so the
 * compiler checks the plugin's definition against it:
 *   TH_PLUGIN_EXPORT const th_plugin_descriptor *tradehost_plugin_entry(void) { return &d; } */
TH_PLUGIN_EXPORT const th_plugin_descriptor *tradehost_plugin_entry(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TRADEHOST_PLUGIN_H */
