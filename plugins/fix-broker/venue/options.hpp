// tradehost-fix-venue's command line: the broker it plays (prices, rules, delays) and the
// faults a test scripts into it. `tradehost-fix-venue --help` prints the list.
#pragma once

#include <map>
#include <set>
#include <string>

namespace fix_venue {

struct Options {
  int port = 0;
  std::string sender_comp_id = "VENUE", target_comp_id = "TRADEHOST";
  std::string store_dir; // FileStore; empty = memory (a restart starts at sequence 1)
  int heartbeat_s = 30;
  std::string username, password; // required at Logon when set (--password-env names the variable)
  // Prices: the last price per symbol starts at --mid SYMBOL=PRICE or --default-mid, then
  // follows fills.
  std::map<std::string, double> mids;
  double default_mid = 100;
  // Rules
  std::set<std::string> reject_symbols;
  double max_qty = 0; // 0 = no limit
  int partial_fills = 1;
  double fill_fraction = 1;
  double commission_per_share = 0;
  // Delays (ms)
  int ack_delay_ms = 0, fill_delay_ms = 0, day_length_ms = 0;
  // Faults, by the order's number (1 = the first NewOrderSingle of this run)
  int drop_after_ack = 0;
  int possdup_fill = 0;
  int skip_seq_order = 0, skip_seq_count = 0;
  bool replay_fills_on_logon = false;
};

// Throws std::invalid_argument; "--help" throws with the usage text.
Options parse_options(int argc, char **argv);

} // namespace fix_venue
