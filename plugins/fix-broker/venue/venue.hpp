// The broker tradehost-fix-venue plays: a FIX 4.4 acceptor application with an in-memory book.
// Requests are handled on the scheduler thread (scheduler.hpp); each action is one JSON line on
// stdout ({"event": ...}), which tests poll.
#pragma once

#include "options.hpp"
#include "scheduler.hpp"

#include <quickfix/Application.h>
#include <quickfix/Message.h>
#include <quickfix/SessionID.h>

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace fix_venue {

struct Order {
  int number = 0; // 1, 2, ... in this run
  std::string cl_ord_id, venue_order_id, symbol;
  char side = '1', ord_type = '1', tif = '0', status = '0';
  double qty = 0, price = 0, stop = 0, cum = 0, notional = 0;
  uint64_t generation = 0; // bumped by cancel/replace: scheduled executions of older ones lapse
  bool first_fill_sent = false;
  double avg() const { return cum > 0 ? notional / cum : 0; }
  bool terminal() const { return status == '2' || status == '4' || status == '8' || status == 'C'; }
};

class Venue : public FIX::Application {
public:
  explicit Venue(const Options &options);

  void onCreate(const FIX::SessionID &) override {}
  void onLogon(const FIX::SessionID &id) override;
  void onLogout(const FIX::SessionID &id) override;
  void toAdmin(FIX::Message &, const FIX::SessionID &) override {}
  void toApp(FIX::Message &message, const FIX::SessionID &) throw(FIX::DoNotSend) override;
  void fromAdmin(const FIX::Message &message,
                 const FIX::SessionID &) throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
                                               FIX::IncorrectTagValue, FIX::RejectLogon) override;
  void fromApp(const FIX::Message &message,
               const FIX::SessionID &id) throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
                                               FIX::IncorrectTagValue, FIX::UnsupportedMessageType) override;

  static void event(const std::string &name, nlohmann::json fields = nlohmann::json::object());

private:
  // Scheduler thread only, from here on.
  void new_order(const FIX::Message &m, bool poss_dup);
  void cancel(const FIX::Message &m);
  void replace(const FIX::Message &m);
  void status(const FIX::Message &m);
  void mass_status(const FIX::Message &m);
  void execute(const std::shared_ptr<Order> &o); // fills what the price model allows, or rests
  void fill(const std::shared_ptr<Order> &o, uint64_t generation, double qty, double px);
  void expire(const std::shared_ptr<Order> &o, uint64_t generation, const std::string &why);
  void replay_fills();
  bool executable(const Order &o, double *px) const;

  FIX::Message report(const Order &o, char exec_type, const std::string &text = "");
  void cancel_reject(const FIX::Message &request, const Order *o, int response_to, int reason,
                     const std::string &text);
  void send(FIX::Message &m);
  // Sends a copy of an ExecutionReport again, marked PossDupFlag=Y (QuickFIX clears the flag on
  // new messages, so toApp() sets it on the way out).
  void send_possdup(const FIX::Message &report);
  std::string next_exec_id();

  Options options_;
  std::mutex session_mutex_;
  FIX::SessionID session_;
  bool have_session_ = false;
  std::string run_id_; // makes ExecIDs and OrderIDs unique across restarts
  uint64_t exec_seq_ = 0;
  int orders_seen_ = 0;
  std::map<std::string, std::shared_ptr<Order>> by_cl_ord_id_; // every ClOrdID an order had
  std::map<std::string, double> last_;
  std::vector<FIX::Message> fills_sent_;
  std::mutex possdup_mutex_;
  std::multiset<std::string> possdup_exec_ids_; // copies on their way out
  Scheduler scheduler_;                         // last: stopped first, before the state its actions use
};

} // namespace fix_venue
