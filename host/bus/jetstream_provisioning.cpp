#include "bus/jetstream_provisioning.hpp"

#include "bus/bus.hpp"
#include "bus/jetstream_connection.hpp"
#include "bus/nats_status.hpp"

#include "observability/log.hpp"

#include <algorithm>
#include <set>
#include <vector>

namespace th {
namespace {

constexpr int64_t ns_per_s = 1'000'000'000;

// "JetStream error 10005: no suitable peers for placement" from what the server answered.
std::string js_error(natsStatus status, jsErrCode code) {
  return nats_error(status) + (code ? " (JetStream error " + std::to_string(int(code)) + ")" : "");
}

std::vector<std::string> contract_subjects() {
  std::vector<std::string> subjects;
  for (size_t i = 0; i < subject_count; ++i)
    subjects.emplace_back(subject_name(static_cast<Subject>(i)));
  return subjects;
}

// Start-up requests wait at most connect_timeout_ms (not publish_timeout_ms): a cluster without
// a meta leader does not answer, and the next attempt (or a SIGTERM) comes sooner.
jsOptions start_request_options(const JetStreamOptions &options) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = options.connect_timeout_ms;
  return o;
}

} // namespace

void ensure_stream(jsCtx *js, const JetStreamOptions &options) {
  jsOptions start_js = start_request_options(options);
  const std::vector<std::string> wanted = contract_subjects();
  jsStreamInfo *info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  std::string add_failure; // what the server answered to STREAM.CREATE, when it refused
  natsStatus status = js_GetStreamInfo(&info, js, options.stream.c_str(), &start_js, &code);
  if (status == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
    std::vector<const char *> subjects;
    subjects.reserve(wanted.size());
    for (const auto &s : wanted)
      subjects.push_back(s.c_str());
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = options.stream.c_str();
    config.Subjects = subjects.data();
    config.SubjectsLen = static_cast<int>(subjects.size());
    config.Storage = js_FileStorage;
    config.Duplicates = int64_t(options.duplicate_window_s) * ns_per_s;
    config.Replicas = options.replicas;
    status = js_AddStream(&info, js, &config, &start_js, &code);
    add_failure = js_error(status, code);
    if (status == NATS_OK) {
      log::info("jetstream.stream_created", {{"stream", options.stream},
                                             {"subjects", wanted},
                                             {"duplicate_window_s", options.duplicate_window_s},
                                             {"replicas", options.replicas}});
      jsStreamInfo_Destroy(info);
      return;
    }
    // Another process may have created it meanwhile: check what is there now.
    info = nullptr;
    code = static_cast<jsErrCode>(0);
    status = js_GetStreamInfo(&info, js, options.stream.c_str(), &start_js, &code);
  }
  // The server's own answer (e.g. 10005 "no suitable peers for placement" while a cluster forms):
  // the create's failure when it was refused, not the follow-up read's "stream not found".
  if (status != NATS_OK)
    throw TransientStartError("jetstream bus: cannot create or read stream '" + options.stream + "' on " +
                              join_items(options.servers) + ": " +
                              (add_failure.empty() ? js_error(status, code) : add_failure));

  std::set<std::string> existing;
  for (int i = 0; i < info->Config->SubjectsLen; ++i)
    existing.insert(info->Config->Subjects[i]);
  std::vector<std::string> problems, notes;
  std::vector<std::string> missing;
  for (const auto &s : wanted)
    if (!existing.count(s))
      missing.push_back(s);
  if (!missing.empty())
    problems.push_back("subjects lack " + join_items(missing));
  if (info->Config->Storage != js_FileStorage)
    problems.push_back("storage is memory (the deployment needs file)");
  for (const auto &s : existing)
    if (std::find(wanted.begin(), wanted.end(), s) == wanted.end())
      notes.push_back("extra subject " + s);
  int64_t window_s = info->Config->Duplicates / ns_per_s;
  if (window_s != options.duplicate_window_s)
    notes.push_back("duplicate window " + std::to_string(window_s) + " s (deployment says " +
                    std::to_string(options.duplicate_window_s) + " s)");
  jsStreamInfo_Destroy(info);
  if (!notes.empty())
    log::warn("jetstream.stream_differs",
              {{"stream", options.stream}, {"differences", notes}, {"changed", false}});
  if (!problems.empty())
    throw std::runtime_error("jetstream bus: stream '" + options.stream +
                             "' exists with another configuration (" + join_items(problems, "; ") +
                             "); it was not changed: fix or delete it (nats stream rm " + options.stream +
                             ") or point bus.jetstream.stream elsewhere");
}

void ensure_consumer(jsCtx *js, const JetStreamOptions &options, const std::string &durable,
                     const std::string &filter) {
  jsOptions start_js = start_request_options(options);
  const int64_t ack_wait = int64_t(options.consumers.ack_wait_s) * ns_per_s;
  jsConsumerInfo *info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  std::string add_failure; // what the server answered to CONSUMER.CREATE, when it refused
  natsStatus status =
      js_GetConsumerInfo(&info, js, options.stream.c_str(), durable.c_str(), &start_js, &code);
  if (status == NATS_NOT_FOUND || code == JSConsumerNotFoundErr) {
    jsConsumerConfig config;
    jsConsumerConfig_Init(&config);
    config.Durable = durable.c_str();
    config.AckPolicy = js_AckExplicit;
    config.AckWait = ack_wait;
    config.MaxDeliver = options.consumers.max_deliver;
    config.DeliverPolicy = js_DeliverAll;
    config.FilterSubject = filter.empty() ? nullptr : filter.c_str();
    status = js_AddConsumer(&info, js, options.stream.c_str(), &config, &start_js, &code);
    add_failure = js_error(status, code);
    if (status == NATS_OK) {
      log::info("jetstream.consumer_created", {{"stream", options.stream},
                                               {"durable", durable},
                                               {"filter_subject", filter},
                                               {"ack_wait_s", options.consumers.ack_wait_s},
                                               {"max_deliver", options.consumers.max_deliver}});
      jsConsumerInfo_Destroy(info);
      return;
    }
    info = nullptr;
    code = static_cast<jsErrCode>(0);
    status = js_GetConsumerInfo(&info, js, options.stream.c_str(), durable.c_str(), &start_js, &code);
  }
  if (status != NATS_OK)
    throw TransientStartError("jetstream bus: cannot create or read consumer '" + durable + "' of stream '" +
                              options.stream +
                              "': " + (add_failure.empty() ? js_error(status, code) : add_failure));

  const jsConsumerConfig &have = *info->Config;
  std::vector<std::string> problems;
  const std::string have_filter = have.FilterSubject ? have.FilterSubject : "";
  if (have_filter != filter)
    problems.push_back("filter_subject '" + have_filter + "' (deployment needs '" + filter + "')");
  if (have.DeliverSubject && *have.DeliverSubject)
    problems.push_back("it is a push consumer (deliver subject '" + std::string(have.DeliverSubject) +
                       "'; deployment needs a pull consumer)");
  if (have.AckPolicy != js_AckExplicit)
    problems.push_back("ack policy is not explicit");
  if (have.AckWait != ack_wait)
    problems.push_back("ack_wait " + std::to_string(have.AckWait / ns_per_s) + " s (deployment says " +
                       std::to_string(options.consumers.ack_wait_s) + " s)");
  if (have.MaxDeliver != options.consumers.max_deliver)
    problems.push_back("max_deliver " + std::to_string(have.MaxDeliver) + " (deployment says " +
                       std::to_string(options.consumers.max_deliver) + ")");
  jsConsumerInfo_Destroy(info);
  if (!problems.empty())
    throw std::runtime_error("jetstream bus: consumer '" + durable + "' of stream '" + options.stream +
                             "' exists with another configuration: " + join_items(problems, "; ") +
                             "; it was not changed: delete it (nats consumer rm " + options.stream + " " +
                             durable + ") or align bus.jetstream.consumers");
}

std::optional<ConsumerCounts> read_consumer_counts(jsCtx *js, const std::string &stream,
                                                   const std::string &durable, int64_t wait_ms) {
  jsOptions query;
  jsOptions_Init(&query);
  query.Wait = wait_ms;
  jsConsumerInfo *info = nullptr;
  if (js_GetConsumerInfo(&info, js, stream.c_str(), durable.c_str(), &query, nullptr) != NATS_OK)
    return std::nullopt;
  ConsumerCounts counts{info->NumPending, info->NumAckPending, info->NumWaiting};
  jsConsumerInfo_Destroy(info);
  return counts;
}

} // namespace th
