// The plugin's durable memory of one FIX session: the orders it sent (so an ExecutionReport
// after a restart still finds its corr_id and agent) and every ExecID it turned into a fill
// (so a resend, a PossDup copy or a replay after a restart is not filled twice). One
// append-only JSON-lines file; a torn last line (a crash mid-write) is skipped on load.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace fix_broker {

struct OrderRecord {
  std::string order_id; // ClOrdID of the NewOrderSingle: the host's order_id
  std::string corr_id, parent_corr_id, agent_id, instrument;
  int32_t side = 0;
  double quantity = 0;
  char ord_type = '1', time_in_force = '0'; // FIX 40 / 59, for replaces
  double price = 0, stop_px = 0;
  std::string current_cl_ord_id; // after a replace: OrigClOrdID 41 of the next request
  bool open = true;
  // Not journaled: what the last ExecutionReport said (the host's ABI 1.2 statuses).
  int32_t status = 0;
  double cum_qty = 0, leaves_qty = 0, avg_px = 0;
  std::string venue_order_id;
};

class Journal {
public:
  // Creates the directory and file if needed and loads what is there. Throws std::runtime_error.
  Journal(const std::string &path, bool fsync);
  ~Journal();
  Journal(const Journal &) = delete;
  Journal &operator=(const Journal &) = delete;

  bool seen(const std::string &exec_id) const { return exec_ids_.count(exec_id) > 0; }
  void record_exec(const std::string &exec_id);
  void record_order(const OrderRecord &order);
  void record_closed(const std::string &order_id);
  // A ClOrdID the plugin gave a cancel or replace of order_id.
  void record_alias(const std::string &cl_ord_id, const std::string &order_id);
  // The venue acknowledged a replace: cl_ord_id is now the order's ClOrdID at the venue.
  void record_current(const std::string &cl_ord_id, const std::string &order_id);

  // The order a ClOrdID (the order's own or an alias) belongs to; null when unknown.
  OrderRecord *find(const std::string &cl_ord_id);
  std::vector<OrderRecord> open_orders() const;
  size_t exec_count() const { return exec_ids_.size(); }
  const std::string &path() const { return path_; }

private:
  void append(const std::string &line);

  std::string path_;
  bool fsync_;
  int fd_ = -1;
  std::set<std::string> exec_ids_;
  std::map<std::string, OrderRecord> orders_;
  std::map<std::string, std::string> aliases_;
};

} // namespace fix_broker
