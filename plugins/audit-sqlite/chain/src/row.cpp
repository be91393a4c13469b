#include "audit_chain/row.hpp"

#include "audit_chain/canonical_json.hpp"

namespace th::audit {
namespace {

// The members in canonical (sorted) order; `hash` sits between event_type and previous_hash.
void append_members(const RowView &r, std::string_view hash, std::string &out) {
  out += "{\"chain_position\":";
  out += std::to_string(r.chain_position);
  out += ",\"correlation_id\":";
  append_string(r.correlation_id, out);
  out += ",\"data\":";
  out += r.data;
  out += ",\"event_id\":";
  append_string(r.event_id, out);
  out += ",\"event_type\":";
  append_string(r.event_type, out);
  if (!hash.empty()) {
    out += ",\"hash\":";
    append_string(hash, out);
  }
  out += ",\"previous_hash\":";
  append_string(r.previous_hash, out);
  out += ",\"service\":";
  append_string(r.service, out);
  out += ",\"timestamp\":";
  append_string(r.timestamp, out);
  out += '}';
}

} // namespace

void row_message(const RowView &row, std::string &out) {
  out.clear();
  append_members(row, {}, out);
}

void append_row_record(const RowView &row, std::string_view hash, std::string &out) {
  append_members(row, hash, out);
}

void RowHasher::hash(const RowView &row, std::string &out) {
  row_message(row, message_);
  out.clear();
  append_hash_string(sha_.digest(message_), out);
}

} // namespace th::audit
