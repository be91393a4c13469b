#include "app/acceptance.hpp"

#include "app/trail_reader.hpp"
#include "bus/file_key_value.hpp"
#include "events/json_codec.hpp"
#include "observability/log.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace th::app {
namespace {

constexpr std::string_view decision_prefix = "decision_made:";

// How far one accepted signal got, as the trail shows it.
struct Progress {
  bool decided = false;                                     // decision_made or order_rejected
  std::vector<std::pair<std::string, std::string>> intents; // approved: (message id, intent JSON)
  std::unordered_set<std::string> filled_orders;            // order ids with a fill_received
  std::unordered_set<std::string> filled_agents;            // agents with a fill lacking an order id
};

} // namespace

DurableAcceptance::DurableAcceptance(Bus &bus, Pipeline &pipeline, AcceptanceOptions options)
    : bus_(bus), pipeline_(pipeline), options_(std::move(options)), inbox_(options_.inbox),
      inbox_bus_(bus, inbox_) {}

DurableAcceptance::~DurableAcceptance() {
  stop_retiring();
}

DurableAcceptance::Recovery DurableAcceptance::recover() {
  Recovery r;
  struct Entry {
    std::string msg_id;
    Signal signal;
  };
  std::vector<Entry> entries;
  std::unordered_set<std::string> cancelled, seen;
  for (const auto &segment : inbox_.adopted())
    for (auto &line : Inbox::read_segment(segment.path)) {
      if (!line.cancels.empty()) {
        cancelled.insert(line.cancels);
        continue;
      }
      try {
        Signal s = signal_from_json(nlohmann::json::parse(line.signal));
        if (seen.insert(s.corr_id).second)
          entries.push_back({std::move(line.msg_id), std::move(s)});
      } catch (const std::exception &e) {
        log::error("inbox_entry_unreadable", {{"segment", segment.path.string()}, {"reason", e.what()}});
      }
    }
  std::erase_if(entries, [&](const Entry &e) { return cancelled.count(e.signal.corr_id) != 0; });
  r.entries = entries.size();
  r.cancelled = cancelled.size();
  if (orders_) {
    // Only intents of these signals can come to the executor again: the other hand-over records
    // are done with (keys are kv_key("{corr_id}.{agent}.{n}"), the corr_id up to the first "=2E").
    std::unordered_set<std::string> pending;
    for (const auto &e : entries)
      pending.insert(kv_key(e.signal.corr_id));
    const size_t dropped = orders_->retain(
        [&](const std::string &key) { return pending.count(key.substr(0, key.find("=2E"))) != 0; });
    if (dropped)
      log::info("order_store_compacted", {{"dropped", dropped}, {"kept", orders_->size()}});
  }
  if (entries.empty()) {
    recovered_ = true;
    return r;
  }

  std::unordered_map<std::string, Progress> progress;
  for (const auto &e : entries)
    progress[e.signal.corr_id];
  if (options_.trails.empty()) {
    log::warn("inbox_recovery_unchecked",
              {{"entries", entries.size()},
               {"reason", "no audit-sqlite sink to check against: every signal is published again"}});
  } else {
    // Rows of a signal come after its receipt in the trail (the audit stage gets the signal
    // before anything it causes), so one scan from the oldest receipt sees everything.
    TrailReader trail(options_.trails.front()); // throws: recovery never guesses
    std::optional<int64_t> first;
    for (const auto &e : entries)
      if (auto p = trail.position_of("webhook_received:" + e.signal.corr_id))
        first = first ? std::min(*first, *p) : *p;
    if (first)
      trail.scan_from(*first, [&](const TrailReader::Row &row) {
        auto it = progress.find(std::string(row.correlation_id));
        if (it == progress.end())
          return;
        Progress &p = it->second;
        if (row.event_type == "order_rejected") {
          p.decided = true;
        } else if (row.event_type == "decision_made") {
          p.decided = true;
          // The host's own rows name the intent's message id ("decision_made:{corr}:decision:...");
          // a strategy's own decision_made audit event (e.g. momentum's skip) is no intent.
          std::string_view id = row.event_id;
          if (id.substr(0, decision_prefix.size()) == decision_prefix &&
              id.find(":decision:") != std::string_view::npos) {
            id.remove_prefix(decision_prefix.size());
            p.intents.emplace_back(std::string(id), std::string(row.data));
          }
        } else if (row.event_type == "fill_received") {
          auto data = nlohmann::json::parse(row.data, nullptr, false);
          if (data.is_object() && !data.value("order_id", std::string()).empty())
            p.filled_orders.insert(data.value("order_id", std::string()));
          else if (data.is_object())
            p.filled_agents.insert(data.value("agent_id", std::string()));
        }
      });
  }

  std::unordered_set<std::string> decided;
  for (const auto &[corr_id, p] : progress)
    if (p.decided)
      decided.insert(corr_id);
  pipeline_.skip_agents_for(decided);
  const auto timeout = std::chrono::seconds(30);
  for (auto &e : entries) {
    const std::string corr_id = e.signal.corr_id;
    const Progress &p = progress[corr_id];
    // Published again in any case: the sinks skip rows they hold, executors and the portfolio
    // see the price, and an undecided signal reaches the agents.
    if (bus_.publish(Message{Subject::signals_normalized, std::move(e.signal), std::move(e.msg_id)},
                     timeout) == PublishStatus::unavailable)
      throw std::runtime_error("inbox recovery: the bus refused signal " + corr_id);
    last_recovered_ = corr_id;
    if (!p.decided) {
      ++r.republished;
      continue;
    }
    ++r.already_decided;
    for (const auto &[msg_id, data] : p.intents) {
      OrderIntent intent = order_intent_from_json(nlohmann::json::parse(data));
      // Filled: done. Otherwise it goes to the execution stage again, whose order store decides:
      // never handed over -> handed over now; handed over -> its recorded fills again, or in doubt.
      if (intent.order_id.empty() ? p.filled_agents.count(intent.agent_id) != 0
                                  : p.filled_orders.count(intent.order_id) != 0)
        continue;
      log::warn("inbox_intent_resent",
                {{"agent", intent.agent_id},
                 {"msg_id", msg_id},
                 {"reason", "approved before the crash, no fill in the trail"}},
                corr_id);
      if (bus_.publish(Message{Subject::decisions_order_intent, std::move(intent), msg_id}, timeout) ==
          PublishStatus::unavailable)
        throw std::runtime_error("inbox recovery: the bus refused the intent of " + corr_id);
      ++r.intents_resent;
    }
  }
  recovered_ = true;
  log::info("inbox_recovered", {{"entries", r.entries},
                                {"cancelled", r.cancelled},
                                {"republished", r.republished},
                                {"already_decided", r.already_decided},
                                {"intents_resent", r.intents_resent},
                                {"directory", options_.inbox.directory.string()}});
  return r;
}

bool DurableAcceptance::trails_hold(const std::string &corr_id) {
  for (const auto &path : options_.trails) {
    try {
      if (!TrailReader(path).has("signal_published:" + corr_id))
        return false;
    } catch (const std::exception &e) {
      log::warn("inbox_trail_unreadable", {{"trail", path}, {"reason", e.what()}});
      return false;
    }
  }
  return true;
}

void DurableAcceptance::start_retiring() {
  thread_ = std::thread([this] { retire_loop(); });
}

void DurableAcceptance::stop_retiring() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void DurableAcceptance::retire_loop() {
  auto opened = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stopping_; }))
        return;
    }
    auto now = std::chrono::steady_clock::now();
    auto segments = inbox_.segments();
    if (!segments.empty() && !segments.back().sealed && segments.back().last_seq != 0 &&
        now - opened >= options_.segment_age) {
      inbox_.seal_current();
      opened = now;
      segments = inbox_.segments();
    }
    std::vector<uint64_t> ready;
    for (const auto &s : segments) {
      bool known = false;
      for (const auto &done : settled_)
        known |= done.segment == s.id;
      if (s.sealed && s.unresolved == 0 && !known)
        ready.push_back(s.id);
    }
    if (!ready.empty() && bus_.wait_settled(std::chrono::seconds(10))) {
      const uint64_t after = inbox_.next_seq();
      for (auto id : ready)
        settled_.push_back({id, after});
    }
    if (settled_.empty())
      continue;
    const auto last = inbox_bus_.last_published();
    std::vector<Settled> keep;
    bool proven = options_.trails.empty(); // no trail to ask: settled is all we can know
    bool asked = false;
    for (const auto &s : settled_) {
      if (!proven && !asked && last.seq >= s.after_seq) {
        proven = trails_hold(last.corr_id);
        asked = true;
      }
      if (proven && (options_.trails.empty() || last.seq >= s.after_seq))
        inbox_.retire(s.segment);
      else
        keep.push_back(s);
    }
    settled_ = std::move(keep);
  }
}

void DurableAcceptance::close_after_clean_stop() {
  stop_retiring();
  if (!recovered_)
    return; // start-up failed before recovery: what the inbox holds waits for the next start
  std::string proof = inbox_bus_.last_published().corr_id;
  if (proof.empty())
    proof = last_recovered_;
  if (!proof.empty() && !options_.trails.empty() && !trails_hold(proof)) {
    log::warn("inbox_kept", {{"directory", options_.inbox.directory.string()},
                             {"reason", "the audit trail does not hold the last accepted signal; the next "
                                        "start recovers from the inbox"}});
    return;
  }
  inbox_.seal_current();
  for (const auto &s : inbox_.segments())
    inbox_.retire(s.id);
  if (orders_)
    orders_->clear(); // no intent can come again: the hand-over records are done with
}

std::unique_ptr<DurableAcceptance> make_acceptance(const Deployment &d, unsigned roles, Bus &bus,
                                                   Pipeline &pipeline) {
  if (d.bus.kind != "embedded" || roles != role_all)
    return nullptr;
  AcceptanceOptions options;
  options.inbox.directory = d.bus.inbox_directory;
  options.inbox.fsync = d.bus.inbox_fsync;
  for (const auto &s : d.audit)
    if (s.plugin.plugin == "audit-sqlite" && s.plugin.params.contains("path")) {
      options.trails.push_back(s.plugin.params["path"].get<std::string>());
      if (d.bus.inbox_fsync && s.plugin.params.value("synchronous", std::string("normal")) != "full")
        log::warn("inbox_fsync_trail_not_synced",
                  {{"sink", s.id},
                   {"reason", "bus.inbox.fsync is on but the sink's synchronous is not 'full': after a "
                              "power loss the trail may lack what the inbox already retired"}});
    }
  auto acceptance = std::make_unique<DurableAcceptance>(bus, pipeline, std::move(options));
  // The executor's hand-overs, so an intent resent at recovery never reaches it twice.
  if (roles & role_exec) {
    acceptance->orders_ = std::make_shared<FileKeyValue>(std::filesystem::path(d.data_dir) / "orders.journal",
                                                         d.bus.inbox_fsync);
    pipeline.execution().set_order_store(acceptance->orders_);
  }
  return acceptance;
}

} // namespace th::app
