#include "bus/inbox_bus.hpp"

#include "events/json_writer.hpp"
#include "observability/log.hpp"

#include <nlohmann/json.hpp>

namespace th {

void InboxBus::encode(const Message &message, std::string &line) {
  thread_local std::string body;
  write_json(message.payload, body);
  line.assign(R"({"m":)");
  line.append(nlohmann::json(message.msg_id).dump());
  line.append(R"(,"s":)").append(body).push_back('}');
}

PublishStatus InboxBus::publish(const Message &message, std::chrono::milliseconds timeout) {
  if (message.subject != Subject::signals_normalized)
    return inner_.publish(message, timeout);
  thread_local std::string line;
  encode(message, line);
  Inbox::Ticket ticket;
  try {
    ticket = inbox_.append(line);
  } catch (const std::exception &e) {
    log::error("inbox_write_failed", {{"reason", e.what()}}, corr_id_of(message));
    return PublishStatus::unavailable; // not stored, so not accepted
  }
  PublishStatus status = inner_.publish(message, timeout);
  if (status == PublishStatus::unavailable) {
    // Nothing was delivered: cancel the entry so a restart does not publish what got a 503.
    try {
      inbox_.resolve(inbox_.append(R"({"c":)" + nlohmann::json(corr_id_of(message)).dump() + "}"));
    } catch (const std::exception &e) {
      log::error("inbox_write_failed", {{"reason", e.what()}}, corr_id_of(message));
    }
  } else {
    std::lock_guard lock(published_mutex_);
    if (ticket.seq > last_.seq) {
      last_.seq = ticket.seq;
      last_.corr_id = corr_id_of(message);
    }
  }
  inbox_.resolve(ticket);
  return status;
}

BusHealth InboxBus::health() const {
  BusHealth health = inner_.health();
  if (std::string error = inbox_.error(); !error.empty() && health.problem.empty())
    health.problem = "the inbox cannot be written (" + error + "): webhooks are refused until a restart";
  return health;
}

InboxBus::Published InboxBus::last_published() const {
  std::lock_guard lock(published_mutex_);
  return last_;
}

} // namespace th
