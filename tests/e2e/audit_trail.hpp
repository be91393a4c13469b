// The audit trail as the crash tests count it: rows per corr_id and event type, the orders and
// fill ids each corr_id was filled under, and the net filled quantity per instrument.
#pragma once

#include <audit_chain/sqlite.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <string>

namespace th::test {

struct AuditTrail {
  std::map<std::string, std::map<std::string, int>> types;  // corr_id -> event_type -> rows
  std::map<std::string, std::set<std::string>> fill_orders; // corr_id -> "order_id/agent_id" filled
  std::map<std::string, std::set<std::string>> fill_ids;    // corr_id -> fill ids
  std::map<std::string, double> net;                        // instrument -> net filled quantity
  size_t rows = 0;
};

inline AuditTrail read_audit_trail(const std::string &db) {
  AuditTrail t;
  audit::Database d(db, audit::Database::Mode::read_only);
  audit::Statement q(d, "SELECT correlation_id, event_type, data FROM events");
  while (q.step()) {
    ++t.rows;
    std::string corr(q.text(0)), type(q.text(1));
    ++t.types[corr][type];
    if (type != "fill_received")
      continue;
    auto data = nlohmann::json::parse(q.text(2));
    t.fill_orders[corr].insert(data.value("order_id", "") + "/" + data.value("agent_id", ""));
    t.fill_ids[corr].insert(data.value("fill_id", ""));
    const double quantity = data.value("quantity_filled", data.value("quantity", 0.0));
    t.net[data.value("instrument", "")] += data.value("side", "") == "sell" ? -quantity : quantity;
  }
  return t;
}

} // namespace th::test
