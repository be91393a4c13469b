#include "events/events.hpp"

#include <array>

namespace th {
namespace {
constexpr std::array<std::string_view, subject_count> names{
    "signals.normalized", "decisions.order_intent", "decisions.rejected",
    "executions.fill",    "executions.reconcile",   "audit.event",
};
} // namespace

std::string_view subject_name(Subject s) {
  return names[static_cast<size_t>(s)];
}

std::optional<Subject> subject_from_name(std::string_view n) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == n)
      return static_cast<Subject>(i);
  return std::nullopt;
}

const std::string &corr_id_of(const Message &m) {
  return std::visit(
      [](const auto &p) -> const std::string & {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Rejection>)
          return p.intent.corr_id;
        else if constexpr (std::is_same_v<T, AuditRecord>)
          return p.correlation_id;
        else
          return p.corr_id;
      },
      m.payload);
}

} // namespace th
