#include "bus/jetstream_connection.hpp"

#include "bus/nats_status.hpp"

#include "observability/log.hpp"

#include <algorithm>
#include <utility>

namespace th {
namespace {

bool transient_connect_failure(natsStatus s) {
  switch (s) {
  case NATS_NO_SERVER:
  case NATS_IO_ERROR:
  case NATS_TIMEOUT:
  case NATS_CONNECTION_CLOSED:
  case NATS_CONNECTION_DISCONNECTED:
  case NATS_STALE_CONNECTION:
  case NATS_NOT_YET_CONNECTED:
    return true;
  default:
    return false;
  }
}

} // namespace

std::string join_items(const std::vector<std::string> &items, const char *separator) {
  std::string out;
  for (const auto &item : items)
    out += (out.empty() ? "" : separator) + item;
  return out;
}

natsOptions *JetStreamConnection::connection_options(bool send_asap, const std::string &name) {
  natsOptions *opts = nullptr;
  auto check = [&](natsStatus s, const char *what) {
    if (s != NATS_OK) {
      natsOptions_Destroy(opts);
      throw std::runtime_error(std::string("jetstream bus: ") + what + ": " + nats_error(s));
    }
  };
  check(natsOptions_Create(&opts), "cannot create connection options");
  std::vector<const char *> urls;
  for (const auto &url : options_.servers)
    urls.push_back(url.c_str());
  check(natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size())), "bad servers");
  check(natsOptions_SetName(opts, name.c_str()), "bad connection_name");
  check(natsOptions_SetTimeout(opts, options_.connect_timeout_ms), "bad connect_timeout_ms");
  check(natsOptions_SetAllowReconnect(opts, true), "reconnect");
  check(natsOptions_SetMaxReconnect(opts, -1), "reconnect"); // never give up
  check(natsOptions_SetReconnectWait(opts, options_.reconnect_wait_ms), "bad reconnect_wait_ms");
  check(natsOptions_SetReconnectBufSize(opts, options_.reconnect_buffer_bytes), "bad reconnect_buffer_bytes");
  check(natsOptions_SetSendAsap(opts, send_asap), "send asap");
  check(natsOptions_SetDisconnectedCB(opts, &disconnected_callback, this), "callbacks");
  check(natsOptions_SetReconnectedCB(opts, &reconnected_callback, this), "callbacks");
  check(natsOptions_SetClosedCB(opts, &closed_callback, this), "callbacks");
  if (!options_.creds_file.empty())
    check(natsOptions_SetUserCredentialsFromFiles(opts, options_.creds_file.c_str(), nullptr),
          ("cannot use creds_file " + options_.creds_file).c_str());
  if (!options_.nkey_file.empty())
    check(natsOptions_SetNKeyFromSeed(opts, options_.nkey.c_str(), options_.nkey_file.c_str()),
          ("cannot use nkey_file " + options_.nkey_file).c_str());
  if (!options_.user.empty())
    check(natsOptions_SetUserInfo(opts, options_.user.c_str(), options_.password.c_str()), "cannot set user");
  if (options_.tls.enabled()) {
    check(natsOptions_SetSecure(opts, true), "cannot enable TLS");
    if (!options_.tls.ca_file.empty())
      check(natsOptions_LoadCATrustedCertificates(opts, options_.tls.ca_file.c_str()),
            ("cannot load tls.ca_file " + options_.tls.ca_file).c_str());
    if (!options_.tls.cert_file.empty())
      check(natsOptions_LoadCertificatesChain(opts, options_.tls.cert_file.c_str(),
                                              options_.tls.key_file.c_str()),
            ("cannot load tls.cert_file/key_file " + options_.tls.cert_file).c_str());
  }
  return opts;
}

void JetStreamConnection::connect() {
  auto check = [&](natsStatus s, const char *what) {
    if (s != NATS_OK)
      throw std::runtime_error(std::string("jetstream bus: ") + what + ": " + nats_error(s));
  };
  nats_options_ = connection_options(true, options_.connection_name);
  batch_options_ = connection_options(false, options_.connection_name + "-batch");
  for (auto [connection, opts] : {std::pair{&nc_, nats_options_}, std::pair{&batch_nc_, batch_options_}}) {
    natsStatus status = natsConnection_Connect(connection, opts);
    if (status != NATS_OK) {
      *connection = nullptr;
      std::string what =
          "jetstream bus: cannot connect to " + join_items(options_.servers) + ": " + nats_error(status);
      if (transient_connect_failure(status))
        throw TransientStartError(what);
      throw std::runtime_error(what);
    }
  }

  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = std::max(options_.publish_timeout_ms, 2000);
  check(natsConnection_JetStream(&js_, nc_, &js_options), "cannot create a JetStream context");
}

void JetStreamConnection::close() {
  if (js_)
    jsCtx_Destroy(js_);
  js_ = nullptr;
  int expected_closed;
  {
    std::lock_guard lock(state_mutex_);
    expected_closed = closed_; // earlier connections (start() attempts) closed already
  }
  for (natsConnection **connection : {&batch_nc_, &nc_}) {
    if (!*connection)
      continue;
    natsConnection_Close(*connection);
    // The closed callback is the connection's last one: after it, none can reach this object.
    ++expected_closed;
    std::unique_lock lock(state_mutex_);
    if (!state_cv_.wait_for(lock, std::chrono::seconds(5), [&] { return closed_ >= expected_closed; }))
      log::warn("jetstream.close_slow", {{"stream", options_.stream}});
    lock.unlock();
    natsConnection_Destroy(*connection);
    *connection = nullptr;
  }
  for (natsOptions **opts : {&batch_options_, &nats_options_}) {
    if (*opts)
      natsOptions_Destroy(*opts);
    *opts = nullptr;
  }
}

bool JetStreamConnection::wait_connected(Clock::time_point deadline) {
  std::unique_lock lock(state_mutex_);
  while (true) {
    if (connected())
      return true;
    auto now = Clock::now();
    if (now >= deadline || stopping_)
      return false;
    // Callbacks notify; the short poll covers a notification racing with this check.
    state_cv_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(50)));
  }
}

void JetStreamConnection::pause(std::chrono::milliseconds duration) {
  std::unique_lock lock(state_mutex_);
  state_cv_.wait_for(lock, duration, [&] { return stopping_.load(); });
}

bool JetStreamConnection::begin_stopping() {
  if (stopping_.exchange(true))
    return false;
  std::lock_guard lock(state_mutex_);
  state_cv_.notify_all();
  return true;
}

void JetStreamConnection::cancel_start() {
  cancel_start_ = true;
  std::lock_guard lock(state_mutex_);
  state_cv_.notify_all();
}

bool JetStreamConnection::wait_start_cancelled(std::chrono::milliseconds duration) {
  std::unique_lock lock(state_mutex_);
  return state_cv_.wait_for(lock, duration, [&] { return cancel_start_.load(); });
}

void JetStreamConnection::disconnected_callback(natsConnection *, void *closure) {
  auto *self = static_cast<JetStreamConnection *>(closure);
  if (!self->stopping_)
    log::warn("jetstream.disconnected", {{"servers", self->options_.servers}});
  std::lock_guard lock(self->state_mutex_);
  self->state_cv_.notify_all();
}

void JetStreamConnection::reconnected_callback(natsConnection *nc, void *closure) {
  auto *self = static_cast<JetStreamConnection *>(closure);
  char url[256] = {0};
  natsConnection_GetConnectedUrl(nc, url, sizeof url);
  log::info("jetstream.reconnected", {{"server", url}});
  std::lock_guard lock(self->state_mutex_);
  self->state_cv_.notify_all();
}

void JetStreamConnection::closed_callback(natsConnection *, void *closure) {
  auto *self = static_cast<JetStreamConnection *>(closure);
  std::lock_guard lock(self->state_mutex_);
  ++self->closed_;
  self->state_cv_.notify_all();
}

} // namespace th
