// The Bus over NATS JetStream (nats.c): one stream holding the contract's six subjects, one
// durable pull consumer per subscription, Nats-Msg-Id de-duplication and ack-after-handler.
// Design and guarantees: docs/jetstream.md.
#pragma once

#include "bus/bus.hpp"
#include "bus/jetstream_options.hpp"

#include <memory>
#include <string>

namespace th {

// Nothing connects until start(). start() throws std::runtime_error naming the server, stream
// or consumer when it cannot connect, or when an existing stream/consumer differs from what
// this deployment needs (it never changes an existing one).
std::unique_ptr<Bus> make_jetstream_bus(const JetStreamOptions &options);

// The Nats-Msg-Id used for a message: message.msg_id when set, else
// "{subject}:{corr_id}" plus ":{id}" for payloads with their own id (fill_id, reconcile_id,
// event_id, agent_id of an intent or rejection).
std::string jetstream_msg_id(const Message &message);

// The JetStream consumer filter for a subscription's subjects: the subject itself for one,
// "{common prefix}.>" for several sharing a first token, empty (the whole stream) otherwise.
std::string jetstream_filter_subject(const std::vector<Subject> &subjects);

} // namespace th
