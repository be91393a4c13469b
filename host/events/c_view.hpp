// Conversions between host events and the plugin ABI structs.
//
// view_of() builds a borrowed th_* view over a host event: no copies, valid while the event lives.
// assign_from() copies a plugin-provided th_* struct into a host event, honouring struct_size:
// fields past what the plugin's struct reaches take their defaults (so plugins built against an
// older, smaller struct keep working). assign_from reuses the destination's string capacity.
#pragma once

#include "events/events.hpp"

#include <tradehost/plugin.h>

namespace th {

inline th_str view_of(const std::string &s) {
  return th_str{s.data(), s.size()};
}
inline std::string_view as_view(th_str s) {
  return s.len ? std::string_view(s.ptr, s.len) : std::string_view();
}

th_signal view_of(const Signal &);
th_order_intent view_of(const OrderIntent &);
th_fill view_of(const Fill &);
th_reconcile view_of(const Reconcile &);
th_audit_event view_of(const AuditRecord &);

void assign_from(Signal &out, const th_signal &in);
void assign_from(OrderIntent &out, const th_order_intent &in);
void assign_from(Fill &out, const th_fill &in);
void assign_from(Reconcile &out, const th_reconcile &in);

} // namespace th
