// Queued events packed into one byte buffer: no allocation per event once the buffers have grown
// (the queue and the writer swap two batches back and forth).
#pragma once

#include <audit_chain/appender.hpp>

#include <string>
#include <vector>

namespace th::audit {

class EventBatch {
public:
  // `sequence` is the host's number for the event (th_audit_event.sequence; 0 from a 1.0 host).
  void add(const EventView &e, uint64_t sequence = 0) {
    Entry entry;
    entry.sequence = sequence;
    entry.start = bytes_.size();
    size_t field = 0;
    for (std::string_view part :
         {e.event_id, e.correlation_id, e.event_type, e.timestamp, e.service, e.data}) {
      bytes_.append(part);
      entry.ends[field++] = bytes_.size() - entry.start;
    }
    entries_.push_back(entry);
  }

  size_t size() const { return entries_.size(); }
  uint64_t sequence(size_t i) const { return entries_[i].sequence; }
  bool empty() const { return entries_.empty(); }
  void clear() {
    bytes_.clear();
    entries_.clear();
  }
  void swap(EventBatch &other) noexcept {
    bytes_.swap(other.bytes_);
    entries_.swap(other.entries_);
  }

  // Views into this batch, valid until it changes.
  void views(std::vector<EventView> &out) const {
    out.clear();
    for (const Entry &e : entries_) {
      std::string_view b = std::string_view(bytes_).substr(e.start);
      auto field = [&](size_t i) {
        return b.substr(i ? e.ends[i - 1] : 0, e.ends[i] - (i ? e.ends[i - 1] : 0));
      };
      out.push_back({field(0), field(1), field(2), field(3), field(4), field(5)});
    }
  }

private:
  struct Entry {
    uint64_t sequence;
    size_t start;
    size_t ends[6]; // end of each field, relative to start
  };
  std::string bytes_;
  std::vector<Entry> entries_;
};

} // namespace th::audit
