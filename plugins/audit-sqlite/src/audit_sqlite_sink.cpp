// audit-sqlite: stores every audit event in a hash-chained SQLite trail (docs/audit-format.md).
// on_audit_event validates and canonicalizes the event on the caller's thread, then queues it;
// one writer thread appends batches in transactions, signs checkpoints and updates the sidecar.
// After each commit it tells the host which events are durable (ABI 1.1 durable_up_to); a commit
// that fails (I/O error, disk full, database locked) is kept and retried, and the host is told
// the sink is unavailable until a retry succeeds (report_sink_state).
#include "event_queue.hpp"
#include "sink_params.hpp"
#include "wal_checkpointer.hpp"

#include <audit_chain/appender.hpp>
#include <audit_chain/canonical_json.hpp>
#include <audit_chain/checkpoint.hpp>
#include <audit_chain/sqlite.hpp>
#include <audit_chain/timestamp.hpp>

#include <tradehost/plugin.hpp>

#include <pthread.h>
#include <sys/stat.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace th::audit {
namespace {

using tradehost::view;

std::string_view checked_text(th_str s, const char *field, bool required) {
  std::string_view v = view(s);
  if (required && v.empty())
    throw std::invalid_argument(std::string("audit event has an empty ") + field);
  if (!is_valid_utf8(v))
    throw std::invalid_argument(std::string("audit event ") + field + " is not valid UTF-8");
  return v;
}

bool file_exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

class AuditSqliteSink : public tradehost::PluginBase {
public:
  AuditSqliteSink(const th_host_api *api, th_host *host, std::string_view params_json)
      : PluginBase(api, host), params_(parse_sink_params(params_json)),
        appender_(std::make_unique<Appender>(params_.path, AppenderOptions{params_.synchronous})),
        checkpointer_(std::make_unique<WalCheckpointer>(
            appender_->database(), params_.synchronous,
            static_cast<int>(std::min<size_t>(params_.wal_checkpoint_pages, 1 << 30)),
            [this](const std::string &problem) { log(TH_LOG_WARN, problem); })),
        queue_(params_.queue_capacity) {
    sqlite3_busy_timeout(appender_->database().handle(),
                         static_cast<int>(std::min<int64_t>(params_.busy_timeout.count(), INT32_MAX)));
    if (params_.signing_key)
      key_ = SigningKey::load(*params_.signing_key);
    if (key_)
      catch_up_sidecar();
  }

  ~AuditSqliteSink() override {
    try {
      finish();
    } catch (...) { // destroy() cannot report; stop() already did if it was called
    }
  }

  void start() {
    std::lock_guard lock(lifecycle_);
    if (writer_.joinable() || stopped_)
      return;
    const Head &head = appender_->head();
    log(TH_LOG_INFO, "audit-sqlite: chain " + params_.path + " continues after position " +
                         std::to_string(head.chain_position) +
                         (key_ ? " (checkpoints signed)" : " (no signing key)"));
    writer_ = std::thread([this] {
      ::pthread_setname_np(::pthread_self(), "audit-writer");
      write_loop();
    });
  }

  void stop() {
    finish();
    std::lock_guard lock(failure_mutex_);
    if (!failure_.empty())
      throw std::runtime_error(failure_);
  }

  void on_audit_event(const th_audit_event &e) {
    // Validated and canonicalized here, on the caller's thread, into per-thread buffers; the
    // queue copies the result into its batch buffer.
    thread_local std::string data, timestamp;
    EventView v{checked_text(e.event_id, "event_id", true),
                checked_text(e.correlation_id, "correlation_id", false),
                checked_text(e.event_type, "event_type", true),
                {},
                checked_text(e.service, "service", false),
                {}};
    std::string_view raw = view(e.data_json);
    if (raw.empty()) {
      data = "{}";
    } else {
      try {
        canonicalize_into(raw, data);
      } catch (const CanonicalJsonError &error) {
        throw std::invalid_argument("audit event " + std::string(v.event_id) + " data: " + error.what());
      }
      if (data.front() != '{')
        throw std::invalid_argument("audit event " + std::string(v.event_id) + " data is not a JSON object");
    }
    timestamp.clear();
    append_rfc3339_ms(e.timestamp_ns, timestamp);
    v.timestamp = timestamp;
    v.data = data;
    const uint64_t sequence = TH_HAS_FIELD(&e, th_audit_event, sequence) ? e.sequence : 0;
    if (!queue_.push(v, sequence)) {
      std::lock_guard lock(failure_mutex_);
      throw std::runtime_error(failure_.empty() ? "audit-sqlite is stopped" : failure_);
    }
  }

private:
  using Clock = EventQueue::Clock;

  void finish() {
    std::lock_guard lock(lifecycle_);
    if (stopped_)
      return;
    stopped_ = true;
    queue_.close();
    if (writer_.joinable())
      writer_.join();
    else
      write_loop();        // never started: drain what was queued here
    checkpointer_.reset(); // the writer's connection checkpoints the rest when it closes
  }

  void write_loop() {
    try {
      EventBatch batch;
      std::vector<EventView> events;
      auto last_checkpoint = Clock::now();
      uint64_t checkpointed_at =
          appender_->head().last_checkpoint ? appender_->head().last_checkpoint->chain_position : 0;
      auto due = [&](uint64_t upcoming) {
        return key_ &&
               (appender_->head().chain_position + upcoming >= checkpointed_at + params_.checkpoint_every ||
                Clock::now() >= last_checkpoint + params_.checkpoint_interval);
      };
      auto signed_now = [&] {
        if (!appender_->new_checkpoint())
          return;
        checkpointed_at = appender_->new_checkpoint()->chain_position;
        last_checkpoint = Clock::now();
        sidecar_behind_ = true; // until the line is written (a retry tops the sidecar up)
        append_checkpoint_line(params_.checkpoint_file, *appender_->new_checkpoint(),
                               params_.synchronous != Synchronous::off);
        sidecar_behind_ = false;
      };
      for (;;) {
        // Wake for a timed checkpoint only while there is something new to sign.
        bool unsigned_rows = key_ && appender_->head().chain_position > checkpointed_at;
        auto wake_by =
            unsigned_rows ? last_checkpoint + params_.checkpoint_interval : Clock::time_point::max();
        bool open = queue_.take(batch, params_.batch_max, params_.batch_delay, wake_by);
        batch.views(events);
        // Committed chunks stay committed; a failed one is retried from where it failed (a
        // chunk committed just before a failure is skipped as duplicates when retried).
        size_t committed = 0;
        until_stored([&] {
          while (committed < events.size()) {
            size_t n = std::min(params_.batch_max, events.size() - committed);
            size_t written = appender_->append(events.data() + committed, n, due(n) ? &*key_ : nullptr);
            signed_now();
            committed += n;
            if (written)
              count("audit_sink_events_written_total", static_cast<double>(written));
            report_durable(batch.sequence(committed - 1));
          }
        });
        if (batch.empty() && key_ && appender_->head().chain_position > checkpointed_at && due(0))
          until_stored([&] {
            appender_->checkpoint(*key_);
            signed_now();
          });
        if (!open)
          break;
      }
      if (key_ && appender_->head().chain_position > checkpointed_at) // the final checkpoint
        until_stored([&] {
          appender_->checkpoint(*key_);
          signed_now();
        });
    } catch (const std::exception &e) {
      {
        std::lock_guard lock(failure_mutex_);
        failure_ = std::string("audit-sqlite writer stopped: ") + e.what();
      }
      log(TH_LOG_ERROR, failure_);
      queue_.close(); // producers fail instead of blocking on a queue nobody drains
    }
  }

  // Runs `attempt` until it succeeds. While it fails the sink is reported unavailable and the
  // attempt is retried after a pause (50 ms doubling up to retry_max); what it was given stays
  // queued or in hand, so nothing is dropped. Once the queue is closed (stop()), one last
  // attempt is made and its failure thrown.
  template <class F> void until_stored(F &&attempt) {
    auto pause = std::chrono::milliseconds(50);
    for (bool closing = false;;) {
      try {
        if (sidecar_behind_ && key_) {
          catch_up_sidecar();
          sidecar_behind_ = false;
        }
        attempt();
        report_state(TH_SINK_WRITABLE, "");
        return;
      } catch (const std::exception &e) {
        report_state(TH_SINK_UNAVAILABLE, e.what());
        if (closing)
          throw;
        closing = queue_.wait_closed(pause);
        pause = std::min(pause * 2, params_.retry_max);
      }
    }
  }

  // ABI 1.1 services; a 1.0 host has neither (the sink then only logs).
  void report_state(int32_t state, const std::string &reason) {
    if (state == state_ && (state == TH_SINK_WRITABLE || reason == reason_))
      return;
    bool changed = state != state_;
    state_ = state;
    reason_ = reason;
    if (changed)
      log(state == TH_SINK_WRITABLE ? TH_LOG_INFO : TH_LOG_ERROR,
          state == TH_SINK_WRITABLE ? "audit-sqlite: writing again to " + params_.path
                                    : "audit-sqlite: cannot write, holding events and retrying: " + reason);
    if (TH_HAS_FIELD(api(), th_host_api, report_sink_state) && api()->report_sink_state)
      api()->report_sink_state(host(), state, tradehost::str(reason));
  }

  void report_durable(uint64_t sequence) {
    if (sequence && TH_HAS_FIELD(api(), th_host_api, durable_up_to) && api()->durable_up_to)
      api()->durable_up_to(host(), sequence);
  }

  // A crash between a checkpoint's commit and its sidecar line leaves the sidecar behind the
  // table; append what it misses.
  void catch_up_sidecar() {
    uint64_t known = 0;
    if (file_exists(params_.checkpoint_file))
      for (auto &c : read_checkpoint_file(params_.checkpoint_file))
        known = std::max(known, c.chain_position);
    Statement missing(appender_->database(),
                      "SELECT chain_position, hash, signature, public_key, signed_at "
                      "FROM checkpoints WHERE chain_position > ?1 ORDER BY chain_position");
    missing.bind(1, static_cast<int64_t>(known));
    while (missing.step())
      append_checkpoint_line(params_.checkpoint_file,
                             Checkpoint{static_cast<uint64_t>(missing.int64(0)), std::string(missing.text(1)),
                                        std::string(missing.text(2)), std::string(missing.text(3)),
                                        std::string(missing.text(4))},
                             params_.synchronous != Synchronous::off);
  }

  SinkParams params_;
  std::unique_ptr<Appender> appender_;
  std::unique_ptr<WalCheckpointer> checkpointer_; // destroyed before appender_ (whose connection it hooks)
  std::optional<SigningKey> key_;
  EventQueue queue_;
  std::thread writer_;
  std::mutex lifecycle_;
  bool stopped_ = false;
  std::mutex failure_mutex_;
  std::string failure_;
  // Writer thread only.
  int32_t state_ = TH_SINK_WRITABLE;
  std::string reason_;
  bool sidecar_behind_ = false;
};

} // namespace
} // namespace th::audit

TRADEHOST_PLUGIN_WITH_FLAGS(
    th::audit::AuditSqliteSink, TH_KIND_AUDIT_SINK, TH_PLUGIN_FLAG_REPORTS_DURABLE, "audit-sqlite", "1.1.0",
    "Hash-chained, checkpoint-signed audit trail in SQLite",
    R"({"type":"object","required":["path"],"additionalProperties":false,"properties":{"path":{"type":"string","minLength":1},"batch_max":{"type":"integer","minimum":1},"batch_delay_ms":{"type":"integer","minimum":0},"synchronous":{"enum":["normal","full","off"]},"checkpoint_every":{"type":"integer","minimum":1},"checkpoint_interval_s":{"type":"number","exclusiveMinimum":0},"signing_key":{"type":"string","minLength":1},"checkpoint_file":{"type":"string","minLength":1},"queue_capacity":{"type":"integer","minimum":1},"wal_checkpoint_pages":{"type":"integer","minimum":1},"busy_timeout_ms":{"type":"integer","minimum":0},"retry_max_ms":{"type":"integer","minimum":1}}})")
