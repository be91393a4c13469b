// A bucket of small records shared by every process on one bus, each record expiring a fixed
// time after its last write (JetStream key-value on the JetStream bus; the embedded buses have
// none). Every operation is atomic on its key, so processes can use one bucket to agree on who
// saw a request first. Safe from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace th {

class KeyValue {
public:
  enum class Result {
    ok,          // done (get: found)
    exists,      // create: the key holds a live record, returned in value/revision
    missing,     // get, update: no live record
    conflict,    // update: the record changed since `revision`
    unavailable, // the bucket could not be reached or did not answer: the outcome is unknown
  };

  virtual ~KeyValue() = default;

  // Writes `value` only if the key holds no live record (ok: revision is the record's); on
  // exists, `existing` and `revision` hold the live record.
  virtual Result create(const std::string &key, const std::string &value, std::string &existing,
                        uint64_t &revision) = 0;
  virtual Result get(const std::string &key, std::string &value, uint64_t &revision) = 0;
  // Writes `value` only if the record is still at `revision`; on ok, revision is the new one.
  virtual Result update(const std::string &key, const std::string &value, uint64_t &revision) = 0;
  virtual Result put(const std::string &key, const std::string &value) = 0; // unconditional
  virtual Result erase(const std::string &key) = 0;

  // Called from the handler of a bus that defers its handlers' publishes (JetStream with
  // consumers.defer_handler_publishes): sends the write now and settles it with the handled
  // message's other effects, so the message is acked only once the record is stored and
  // delivered again otherwise. With only_if_absent a live record already there is kept (the
  // first one stays). ok: sent; unavailable: could not be sent (`then` is not called). nullopt
  // anywhere else (no such handler, or a bucket without it): write with create()/put() instead.
  //
  // `then`, if given, runs once the write is answered, on the handler's thread, before the
  // message is acked, in the order of the messages: with ok (stored), exists (only_if_absent:
  // the key held a record, read it with get()) or unavailable (not stored, or unknown: the
  // message is delivered again). What it publishes is settled with the message too; what it
  // throws gets the message delivered again.
  using Then = std::function<void(Result)>;
  virtual std::optional<Result> write_with_effects(const std::string & /*key*/, const std::string & /*value*/,
                                                   bool /*only_if_absent*/, Then && /*then*/ = {}) {
    return std::nullopt;
  }
};

// Keys hold only [A-Za-z0-9_=-] (hex of a digest is the usual choice) and values are short text.

// `text` as such a key, one to one: bytes outside [A-Za-z0-9_-] become "=XX" (hex; '.' too).
std::string kv_key(std::string_view text);

} // namespace th
